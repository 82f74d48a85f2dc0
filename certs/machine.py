"""Which trust stores this machine has, and the store a recorded entry belongs to."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from certs.linux import NSSDatabase, SystemLayout, SystemStore, nss_databases, system_layout
from certs.macos import Keychain, keychain_for
from certs.trust import Plan, TrustError, TrustStore, find_tool
from certs.windows import RootStore

# What each kind of entry must name (bool for the flags, text for the rest).
ENTRY_FIELDS = {
    NSSDatabase.kind: {"database": str, "nickname": str},
    SystemStore.kind: {"layout": str, "file": str},
    Keychain.kind: {"keychain": str, "admin": bool, "sha1": str},
    RootStore.kind: {"machine": bool, "sha1": str},
}


@dataclass(frozen=True)
class Machine:
    """A platform and a user. On Linux, `system_layout` (None: no system store tool) and the NSS
    `certutil` (None: not installed) are given, so tests can point them at throw-away places."""

    platform: str
    user_home: Path
    system_layout: SystemLayout | None = None
    certutil: str | None = None

    @classmethod
    def current(cls) -> Machine:
        if sys.platform.startswith("linux"):
            return cls("linux", Path.home(), system_layout(), find_tool("certutil"))
        return cls(sys.platform, Path.home())

    def plan(self, *, system: bool, user: bool) -> Plan:
        """The system (root or admin) and per-user stores, as asked."""
        if self.platform == "linux":
            return self._linux_plan(system, user)
        scopes = [scope for scope, wanted in ((True, system), (False, user)) if wanted]
        if self.platform == "darwin":
            return Plan([Keychain(keychain_for(self.user_home, admin), admin) for admin in scopes])
        if self.platform == "win32":
            return Plan([RootStore(machine) for machine in scopes])
        raise TrustError(f"offgate cannot trust its CA on {self.platform}: see certs/README.md for the manual steps")

    def store_for(self, entry: dict) -> TrustStore:
        kind = entry.get("store")
        fields = ENTRY_FIELDS.get(kind) if isinstance(kind, str) else None
        if fields is None:
            raise TrustError(f"unknown store {kind!r}")
        wrong = [name for name, kind_of in fields.items() if not isinstance(entry.get(name), kind_of)]
        if wrong:
            raise TrustError(f"the record lacks a valid {', '.join(wrong)}")
        if kind == NSSDatabase.kind:
            return NSSDatabase(Path(entry["database"]), str(entry.get("label", "recorded")), certutil=self.certutil)
        if kind == SystemStore.kind:
            if self.system_layout is None:
                raise TrustError("neither update-ca-certificates nor update-ca-trust is installed")
            return SystemStore(self.system_layout)
        if kind == Keychain.kind:
            return Keychain(Path(entry["keychain"]), entry["admin"])
        return RootStore(entry["machine"])

    def _linux_plan(self, system: bool, user: bool) -> Plan:
        plan = nss_databases(self.user_home, self.certutil) if user else Plan([])
        if not system:
            return plan
        if self.system_layout is None:
            plan.notes.append("system trust store: skipped, neither update-ca-certificates nor update-ca-trust "
                              "is installed (see certs/README.md)")
            return plan
        return Plan([SystemStore(self.system_layout), *plan.stores], plan.notes)
