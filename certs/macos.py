"""macOS: the login keychain (per user) or the System keychain (admin), through `security`.
The commands are computed by pure functions; they are unit-tested here but have not been run
on a Mac by offgate's tests."""

from __future__ import annotations

import os
from pathlib import Path

from certs.trust import CA, Action, NeedsRoot, Run, TrustError, run_tool

SYSTEM_KEYCHAIN = Path("/Library/Keychains/System.keychain")
LOGIN_KEYCHAIN = "Library/Keychains/login.keychain-db"


def keychain_for(user_home: Path, admin: bool) -> Path:
    return SYSTEM_KEYCHAIN if admin else user_home / LOGIN_KEYCHAIN


def add_command(ca_path: Path, keychain: Path, admin: bool) -> tuple[str, ...]:
    """Add the CA with "trust as root" settings: the admin domain (-d) or the user's."""
    return ("security", "add-trusted-cert", *(("-d",) if admin else ()), "-r", "trustRoot", "-k", str(keychain),
            str(ca_path))


def delete_command(sha1: str, keychain: Path, admin: bool) -> tuple[str, ...]:
    """Delete the certificate by its SHA-1; for the user, its trust settings too (-t)."""
    return ("security", "delete-certificate", "-Z", sha1.upper(), *(() if admin else ("-t",)), str(keychain))


def find_command(keychain: Path) -> tuple[str, ...]:
    return ("security", "find-certificate", "-a", "-Z", str(keychain))


def listed(find_output: str, sha1: str) -> bool:
    """Whether `find-certificate -a -Z` listed the certificate ("SHA-1 hash: 3F2A...")."""
    return f"SHA-1 HASH: {sha1.upper()}" in find_output.upper()


class Keychain:
    kind = "keychain"

    def __init__(self, keychain: Path, admin: bool) -> None:
        self.keychain = keychain
        self.system = admin
        self.where = f"{'System' if admin else 'login'} keychain {keychain}"

    def trusts(self, ca: CA) -> bool:
        return self.holds(self.entry(ca))

    def entry(self, ca: CA) -> dict:
        return {"store": self.kind, "keychain": str(self.keychain), "admin": self.system, "sha1": ca.sha1,
                "sha256": ca.sha256}

    def check_writable(self) -> None:
        if self.system and os.geteuid() != 0:
            raise NeedsRoot(f"only an admin (sudo) can change {self.keychain}")

    def install_actions(self, ca: CA) -> list[Action]:
        return [Run(add_command(ca.path, self.keychain, self.system))]

    def holds(self, entry: dict) -> bool:
        done = run_tool(find_command(self.keychain))
        if done.returncode != 0:
            raise TrustError(f"cannot read {self.keychain}: {done.stderr.decode(errors='replace').strip()}")
        return listed(done.stdout.decode(errors="replace"), entry["sha1"])

    def uninstall_actions(self, entry: dict) -> list[Action]:
        return [Run(delete_command(entry["sha1"], self.keychain, self.system))]
