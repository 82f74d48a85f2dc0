"""Windows: the Root store of the current user (`certutil -user`) or of the machine (admin).
The commands are computed by pure functions; they are unit-tested here but have not been run
on Windows by offgate's tests. Windows asks the user to confirm a new root in their store."""

from __future__ import annotations

from pathlib import Path

from certs.trust import CA, Action, Run, run_tool


def scope(machine: bool) -> tuple[str, ...]:
    return () if machine else ("-user",)


def add_command(ca_path: Path, machine: bool) -> tuple[str, ...]:
    return ("certutil", *scope(machine), "-addstore", "Root", str(ca_path))


def delete_command(sha1: str, machine: bool) -> tuple[str, ...]:
    return ("certutil", *scope(machine), "-delstore", "Root", sha1)


def find_command(sha1: str, machine: bool) -> tuple[str, ...]:
    """Exits 0 when the store holds a certificate with this SHA-1."""
    return ("certutil", *scope(machine), "-store", "Root", sha1)


class RootStore:
    kind = "windows-root"

    def __init__(self, machine: bool) -> None:
        self.system = machine
        self.where = f"Windows {'machine' if machine else 'user'} Root store"

    def trusts(self, ca: CA) -> bool:
        return self.holds(self.entry(ca))

    def entry(self, ca: CA) -> dict:
        return {"store": self.kind, "machine": self.system, "sha1": ca.sha1, "sha256": ca.sha256}

    def check_writable(self) -> None:
        """Nothing to check ahead: certutil itself says "Access is denied" without admin rights."""

    def install_actions(self, ca: CA) -> list[Action]:
        return [Run(add_command(ca.path, self.system))]

    def holds(self, entry: dict) -> bool:
        return run_tool(find_command(entry["sha1"], self.system)).returncode == 0

    def uninstall_actions(self, entry: dict) -> list[Action]:
        return [Run(delete_command(entry["sha1"], self.system))]
