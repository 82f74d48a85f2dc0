"""Trusting the CA, reversibly: what every trust store shares.

A trust store (an NSS database, the Linux system store, a keychain, a Windows store) says
whether it trusts a CA and which actions would add or remove it; this module runs those
actions, prints each one, and keeps <home>/certs-installed.json: one entry per store where
offgate added its CA, so that `uninstall` removes exactly that and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from offgate.errors import BadInputError

STATE_FILE = "certs-installed.json"
STATE_VERSION = 1
FINGERPRINT_PREFIX = 16  # hex digits of the SHA-256 in our nickname and file names
TOOL_TIMEOUT_S = 120
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")  # not on a normal user's PATH on Debian


class TrustError(BadInputError):
    """A store cannot be changed or read as asked; the message says why and what to do. One that
    reaches the command line means nothing was tried: the machine, the CA or the record of
    trusted stores is not as offgate needs it (bad input, exit 2)."""


class NeedsRoot(TrustError):
    """Only root (or an admin) can change this store."""


@dataclass(frozen=True)
class CA:
    """The certificate to trust, and the names that mark it as offgate's in every store."""

    path: Path
    der: bytes

    @classmethod
    def load(cls, path: Path) -> CA:
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
        except OSError as exc:
            raise TrustError(f"cannot read the CA certificate {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise TrustError(f"{path} is not a PEM certificate: {exc}") from exc
        return cls(path, certificate.public_bytes(Encoding.DER))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def sha1(self) -> str:
        """What macOS and Windows name a certificate by."""
        return hashlib.sha1(self.der).hexdigest()

    @property
    def nickname(self) -> str:
        return f"offgate CA {self.sha256[:FINGERPRINT_PREFIX]}"

    @property
    def file_stem(self) -> str:
        return f"offgate-{self.sha256[:FINGERPRINT_PREFIX]}"

    def in_pem_bundle(self, bundle: bytes) -> bool:
        """Whether a PEM bundle holds this certificate, however its lines are wrapped."""
        body = base64.b64encode(self.der)
        return body in b"".join(bundle.split())


# -- actions: what a store runs, printed before it runs -------------------------------------------


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return shlex.join(self.argv)

    def perform(self) -> None:
        done = run_tool(self.argv)
        if done.returncode != 0:
            raise TrustError(f"{Path(self.argv[0]).name} failed (exit {done.returncode}): {last_line(done)}")


@dataclass(frozen=True)
class Copy:
    source: Path
    target: Path

    def __str__(self) -> str:
        return f"copy {self.source} to {self.target}"

    def perform(self) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.source, self.target)
        self.target.chmod(0o644)


@dataclass(frozen=True)
class Remove:
    path: Path

    def __str__(self) -> str:
        return f"remove {self.path}"

    def perform(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class MakeDir:
    path: Path

    def __str__(self) -> str:
        return f"make the folder {self.path}"

    def perform(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)


Action = Run | Copy | Remove | MakeDir


def run_tool(argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    """Run a store's tool; stdin is closed so a tool that asks for a password fails instead of waiting."""
    try:
        return subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=TOOL_TIMEOUT_S)
    except FileNotFoundError as exc:
        raise TrustError(f"{argv[0]} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise TrustError(f"{Path(argv[0]).name} did not finish within {TOOL_TIMEOUT_S} s") from exc


def last_line(done: subprocess.CompletedProcess[bytes]) -> str:
    lines = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else "no message"


def find_tool(name: str) -> str | None:
    """A program's path; the sbin folders count too, where the system store tools live."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    return shutil.which(name, path=path)


def writable(path: Path) -> bool:
    """Whether this user may create or change `path` (its nearest existing folder decides)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return os.access(path, os.W_OK)


# -- the stores and the plan -------------------------------------------------------------------------


class TrustStore(Protocol):
    """One place a CA can be trusted. Entries are what the state file records for it."""

    kind: str  # the entry's "store" value
    where: str  # what the user reads
    system: bool  # machine-wide (root or admin) rather than per user

    def trusts(self, ca: CA) -> bool: ...
    def entry(self, ca: CA) -> dict: ...
    def check_writable(self) -> None: ...
    def install_actions(self, ca: CA) -> list[Action]: ...
    def holds(self, entry: dict) -> bool: ...
    def uninstall_actions(self, entry: dict) -> list[Action]: ...


@dataclass(frozen=True)
class Plan:
    """The stores a command works on, and what it looked at and left out (with why)."""

    stores: list[TrustStore]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    where: str
    done: bool  # the store ends (or, in a dry run, would end) as asked
    needs_root: bool = False


Say = Callable[[str], None]


# -- the state file ---------------------------------------------------------------------------------


class StateFile:
    """<home>/certs-installed.json: {"version": 1, "entries": [{"store": kind, ...}, ...]}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[dict]:
        if not self.path.exists():
            return []
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TrustError(f"cannot read {self.path}: {exc.strerror}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._corrupt(f"not JSON: {exc}") from exc
        entries = document.get("entries") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) and "store" in e for e in entries):
            raise self._corrupt('expected {"version": 1, "entries": [{"store": ...}, ...]}')
        return entries

    def save(self, entries: list[dict]) -> None:
        """Replace the file at once (a crash leaves the old one); no entries, no file."""
        partial = self.path.with_name(self.path.name + ".new")
        try:
            if not entries:
                self.path.unlink(missing_ok=True)
                return
            partial.write_text(json.dumps({"version": STATE_VERSION, "entries": entries}, indent=1) + "\n",
                               encoding="utf-8")
            partial.chmod(0o644)  # readable after `sudo offgate certs ...` wrote it
            partial.replace(self.path)
        except OSError as exc:
            raise TrustError(f"cannot write {self.path}: {exc.strerror}; it may not match the stores any more "
                             "(`offgate certs status` shows them)") from exc

    def _corrupt(self, why: str) -> TrustError:
        return TrustError(f"{self.path} is not offgate's record of trusted stores ({why}). It was left as is: "
                          "fix it, or delete it and remove the offgate CA by hand (see certs/README.md)")


# -- install, uninstall, status -----------------------------------------------------------------------


def install(ca: CA, plan: Plan, state: StateFile, *, say: Say, dry_run: bool = False) -> list[Outcome]:
    """Trust `ca` in every store of the plan, recording each store it was added to."""
    entries = state.load()
    outcomes = []
    for store in plan.stores:
        say(store.where)
        try:
            _install_in(store, ca, entries, say, dry_run)
        except TrustError as exc:
            outcomes.append(_failed(store.where, exc, say))
            continue
        if not dry_run:
            state.save(entries)
        outcomes.append(Outcome(store.where, True))
    return outcomes


def _install_in(store: TrustStore, ca: CA, entries: list[dict], say: Say, dry_run: bool) -> None:
    """Trust `ca` in one store, adding its entry to `entries`."""
    entry = store.entry(ca)
    if store.trusts(ca):
        say("  already trusted")
        if entry not in entries and store.holds(entry):  # ours, but the record of it was lost
            entries.append(entry)
        return
    store.check_writable()
    _perform(store.install_actions(ca), say, dry_run)
    say("  would be trusted" if dry_run else "  trusted")
    if entry not in entries:
        entries.append(entry)


def uninstall(state: StateFile, store_for: Callable[[dict], TrustStore], *, say: Say,
              include: Callable[[TrustStore], bool] = lambda store: True, dry_run: bool = False) -> list[Outcome]:
    """Remove what `install` recorded; entries that cannot be removed now stay recorded."""
    entries = state.load()
    outcomes = []
    for entry in list(entries):
        try:
            store = store_for(entry)
        except TrustError as exc:
            say(f"recorded entry {json.dumps(entry)}")
            outcomes.append(_failed(f"recorded entry {json.dumps(entry)}", exc, say))
            continue
        if not include(store):
            continue
        say(store.where)
        try:
            _uninstall_from(store, entry, say, dry_run)
            entries.remove(entry)
            if not dry_run:
                state.save(entries)
        except TrustError as exc:
            outcomes.append(_failed(store.where, exc, say))
            continue
        outcomes.append(Outcome(store.where, True))
    return outcomes


def _uninstall_from(store: TrustStore, entry: dict, say: Say, dry_run: bool) -> None:
    if not store.holds(entry):
        say("  already removed")
        return
    store.check_writable()
    _perform(store.uninstall_actions(entry), say, dry_run)
    say("  would be removed" if dry_run else "  removed")


def status(ca: CA, plan: Plan) -> list[tuple[str, str]]:
    """(state, where) per store: "trusted", "not trusted" or why it cannot tell."""
    lines = []
    for store in plan.stores:
        try:
            lines.append(("trusted" if store.trusts(ca) else "not trusted", store.where))
        except TrustError as exc:
            lines.append((f"cannot tell ({exc})", store.where))
    return lines


def _perform(actions: list[Action], say: Say, dry_run: bool) -> None:
    for action in actions:
        say(f"  {'would run' if dry_run else 'run'}: {action}")
        if not dry_run:
            try:
                action.perform()
            except OSError as exc:
                raise TrustError(f"{action}: {exc.strerror}") from exc


def _failed(where: str, exc: TrustError, say: Say) -> Outcome:
    say(f"  {'needs root' if isinstance(exc, NeedsRoot) else 'failed'}: {exc}")
    return Outcome(where, False, needs_root=isinstance(exc, NeedsRoot))
