"""Linux: the system trust store (Debian's update-ca-certificates or Fedora's update-ca-trust)
and the NSS databases of the browsers, which keep their own trust: Chromium, Chrome, Brave and
Edge share ~/.pki/nssdb; every Firefox (and Firefox ESR) profile has its own cert9.db."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from certs.trust import (
    CA,
    Action,
    Copy,
    MakeDir,
    NeedsRoot,
    Plan,
    Remove,
    Run,
    TrustError,
    TrustStore,
    find_tool,
    run_tool,
    writable,
)

CERTUTIL_MISSING = ("certutil (the NSS tool) is not installed: `sudo apt-get install libnss3-tools` "
                    "(Fedora: `sudo dnf install nss-tools`)")
CHROMIUM_DATABASE = ".pki/nssdb"  # Chromium, Chrome, Brave and Edge; made if missing
CHROMIUM_SNAP_DATABASE = "snap/chromium/current/.pki/nssdb"  # the snap's own home, used if present
FIREFOX_FOLDERS = (  # where profiles.ini lives: the classic place, the XDG one, snap, flatpak
    ".mozilla/firefox",
    ".config/mozilla/firefox",
    "snap/firefox/common/.mozilla/firefox",
    ".var/app/org.mozilla.firefox/.mozilla/firefox",
)
OUR_FILE = re.compile(r"^offgate-[0-9a-f]+\.(crt|pem)$")
NSS_LISTING_LINE = re.compile(r"^(?P<nickname>\S.*?)\s+(?P<trust>[A-Za-z]*,[A-Za-z]*,[A-Za-z]*)\s*$")


# -- the system store -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemLayout:
    """One distribution family's system store: where a local CA goes, the command that rebuilds
    the bundle, and the bundle it writes (what OpenSSL, curl and Python read)."""

    name: str
    anchors: Path
    suffix: str
    bundle: Path
    update: tuple[str, ...]
    refresh: tuple[str, ...]  # rebuild after a removal


DEBIAN = SystemLayout("Debian/Ubuntu", Path("/usr/local/share/ca-certificates"), ".crt",
                      Path("/etc/ssl/certs/ca-certificates.crt"),
                      ("update-ca-certificates",), ("update-ca-certificates", "--fresh"))
FEDORA = SystemLayout("Fedora/RHEL", Path("/etc/pki/ca-trust/source/anchors"), ".pem",
                      Path("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
                      ("update-ca-trust", "extract"), ("update-ca-trust", "extract"))


def system_layout() -> SystemLayout | None:
    """This machine's layout: the first whose update command is installed."""
    return next((layout for layout in (DEBIAN, FEDORA) if find_tool(layout.update[0])), None)


class SystemStore:
    kind = "linux-system"
    system = True

    def __init__(self, layout: SystemLayout) -> None:
        self.layout = layout
        self.where = f"system trust store ({layout.name}, {layout.anchors})"

    def trusts(self, ca: CA) -> bool:
        try:
            return ca.in_pem_bundle(self.layout.bundle.read_bytes())
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise TrustError(f"cannot read {self.layout.bundle}: {exc.strerror}") from exc

    def entry(self, ca: CA) -> dict:
        return {"store": self.kind, "layout": self.layout.name, "file": ca.file_stem + self.layout.suffix,
                "sha256": ca.sha256}

    def check_writable(self) -> None:
        for folder in (self.layout.anchors, self.layout.bundle.parent):
            if not writable(folder):
                raise NeedsRoot(f"only root can write {folder}")

    def install_actions(self, ca: CA) -> list[Action]:
        return [Copy(ca.path, self.layout.anchors / (ca.file_stem + self.layout.suffix)), self._run(self.layout.update)]

    def holds(self, entry: dict) -> bool:
        return self._file(entry).exists()

    def uninstall_actions(self, entry: dict) -> list[Action]:
        return [Remove(self._file(entry)), self._run(self.layout.refresh)]

    def _file(self, entry: dict) -> Path:
        """The recorded file, only if it is ours and in this layout's folder (never any path the record names)."""
        if entry["layout"] != self.layout.name or not OUR_FILE.match(entry["file"]):
            raise TrustError(f"the record names {entry['file']} in {entry['layout']}'s store, "
                             f"which is not offgate's file in this machine's store ({self.layout.name})")
        return self.layout.anchors / entry["file"]

    @staticmethod
    def _run(command: tuple[str, ...]) -> Run:
        return Run((find_tool(command[0]) or command[0], *command[1:]))


# -- NSS databases ----------------------------------------------------------------------------------


class NSSDatabase:
    kind = "nss"
    system = False

    def __init__(self, path: Path, label: str, *, certutil: str | None, create: bool = False) -> None:
        """`create`: make the database when it is missing (Chromium's ~/.pki/nssdb)."""
        self.path = path
        self.label = label
        self.where = f"NSS database {path} ({label})"
        self._certutil = certutil
        self._create = create

    def exists(self) -> bool:
        return (self.path / "cert9.db").exists()

    def trusts(self, ca: CA) -> bool:
        """Whether a certificate in the database is this CA with CA trust for TLS, by any nickname."""
        if not self.exists():
            return False
        return any("C" in trust.split(",")[0] and self._der(nickname) == ca.der
                   for nickname, trust in self._listing().items())

    def entry(self, ca: CA) -> dict:
        return {"store": self.kind, "database": str(self.path), "label": self.label, "nickname": ca.nickname,
                "sha256": ca.sha256}

    def check_writable(self) -> None:
        if not writable(self.path):
            raise TrustError(f"cannot write {self.path}: this user may not change it")

    def install_actions(self, ca: CA) -> list[Action]:
        certutil = self._tool()
        actions: list[Action] = []
        if not self.exists():
            if not self._create:
                raise TrustError(f"no cert9.db in {self.path}")
            actions += [MakeDir(self.path), Run((certutil, "-d", f"sql:{self.path}", "-N", "--empty-password"))]
        return [*actions, Run((certutil, "-d", f"sql:{self.path}", "-A", "-t", "C,,", "-n", ca.nickname,
                               "-i", str(ca.path)))]

    def holds(self, entry: dict) -> bool:
        if not self.exists():
            return False
        return run_tool(self._list_command("-n", entry["nickname"])).returncode == 0

    def uninstall_actions(self, entry: dict) -> list[Action]:
        return [Run((self._tool(), "-d", f"sql:{self.path}", "-D", "-n", entry["nickname"]))]

    def _listing(self) -> dict[str, str]:
        """{nickname: trust flags} from `certutil -L`."""
        done = run_tool(self._list_command())
        if done.returncode != 0:
            raise TrustError(f"cannot read the database: {done.stderr.decode(errors='replace').strip()}")
        matches = (NSS_LISTING_LINE.match(line) for line in done.stdout.decode(errors="replace").splitlines())
        return {m["nickname"]: m["trust"] for m in matches if m}

    def _der(self, nickname: str) -> bytes:
        return run_tool(self._list_command("-n", nickname, "-r")).stdout

    def _list_command(self, *args: str) -> tuple[str, ...]:
        return (self._tool(), "-d", f"sql:{self.path}", "-L", *args)

    def _tool(self) -> str:
        if self._certutil is None:
            raise TrustError(CERTUTIL_MISSING)
        return self._certutil


def nss_databases(user_home: Path, certutil: str | None) -> Plan:
    """The user's NSS databases: Chromium's (made if missing) and every Firefox profile that has one."""
    notes: list[str] = []
    stores: list[TrustStore] = [NSSDatabase(user_home / CHROMIUM_DATABASE, "Chromium, Chrome, Brave, Edge",
                                            certutil=certutil, create=True)]
    snap = NSSDatabase(user_home / CHROMIUM_SNAP_DATABASE, "Chromium snap", certutil=certutil)
    for database in [snap] + [NSSDatabase(path, f"Firefox profile {name}", certutil=certutil)
                              for name, path in firefox_profiles(user_home, notes)]:
        if database.exists():
            stores.append(database)
        elif database.path.exists():
            notes.append(f"{database.where}: skipped, no cert9.db yet (start the browser once with it)")
        elif database is not snap:
            notes.append(f"{database.where}: skipped, the profile folder is missing")
    return Plan(stores, notes)


def firefox_profiles(user_home: Path, notes: list[str]) -> list[tuple[str, Path]]:
    """(name, folder) of every profile in the profiles.ini files found; problems go to `notes`."""
    profiles: dict[Path, str] = {}
    for folder in FIREFOX_FOLDERS:
        ini = user_home / folder / "profiles.ini"
        if not ini.exists():
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(ini, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            notes.append(f"{ini}: skipped, cannot read it ({exc})")
            continue
        for section in parser.sections():
            if not section.startswith("Profile") or "Path" not in parser[section]:
                continue
            profile = parser[section]
            path = Path(profile["Path"])
            if profile.get("IsRelative", "1") == "1":
                path = ini.parent / path
            profiles.setdefault(path, profile.get("Name", path.name))
    return [(name, path) for path, name in profiles.items()]
