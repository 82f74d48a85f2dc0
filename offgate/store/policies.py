"""The central policy in the store (docs/governance.md, "The central policy").

On the central database, `CentralPolicies` keeps every policy an admin set; the newest is in
force and its `version` is what the collector tells each pushing agent. On a workstation,
`AgentPolicy` keeps the one central policy the agent fetched and validated, so it applies
across restarts and while the collector is out of reach. `policy_in_force` is what every
acting part (the proxy, the native host, the gateway's hook) reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from offgate.policy import PolicySettings, with_central
from offgate.store.core import Store
from offgate.store.policy_tables import AgentPolicyRow, CentralPolicyRow

NO_POLICY_VERSION = "none"  # the version a collector reports when no central policy was ever set


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: str
    document: str | None  # policy_document() JSON; None: no central policy (cleared)
    at: datetime  # set (central) or received (agent), naive UTC
    by: str | None = None  # who set it (central only)


class CentralPolicies:
    """The central_policy table of the central database."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def set(self, document: str | None, by: str) -> PolicyVersion:
        """Put `document` (policy_document() JSON, validated by the caller; None clears) in force."""
        now = datetime.now(UTC).replace(tzinfo=None)
        # The time is in the hash so that setting a policy again is a new version (agents fetch it again).
        version = hashlib.sha256(f"{now.isoformat()}\n{document}".encode()).hexdigest()[:16]
        with self._store.reporting("set the central policy in"):
            CentralPolicyRow.insert(version=version, document=document, set_at=now, set_by=by).execute(self._db)
        return PolicyVersion(version, document, now, by)

    def current(self) -> PolicyVersion | None:
        """The policy in force (its document None when cleared), or None if none was ever set."""
        with self._store.reporting("read the central policy from"):
            row = CentralPolicyRow.select().order_by(CentralPolicyRow.id.desc()).first(self._db)
        return None if row is None else PolicyVersion(row.version, row.document, row.set_at, row.set_by)

    def current_version(self) -> str:
        """The version in force, as the collector reports it with each push."""
        with self._store.reporting("read the central policy from"):
            version = (CentralPolicyRow.select(CentralPolicyRow.version).order_by(CentralPolicyRow.id.desc())
                       .limit(1).scalar(self._db))
        return version or NO_POLICY_VERSION


class AgentPolicy:
    """The agent_policy row of a workstation's store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def kept(self) -> PolicyVersion | None:
        with self._store.reporting("read the central policy from"):
            row = AgentPolicyRow.select().where(AgentPolicyRow.id == 1).first(self._db)
        return None if row is None else PolicyVersion(row.version, row.document, row.received_at)

    def keep(self, version: str, document: str | None) -> None:
        """Replace the kept policy; the caller validated `document` (with_central)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._store.reporting("keep the central policy in"):
            (AgentPolicyRow.insert(id=1, version=version, document=document, received_at=now)
             .on_conflict(conflict_target=[AgentPolicyRow.id],
                          update={AgentPolicyRow.version: version, AgentPolicyRow.document: document,
                                  AgentPolicyRow.received_at: now})
             .execute(self._db))


def policy_in_force(store: Store, local: PolicySettings, central: bool = False) -> PolicySettings:
    """`local` with the central policy over it: the one this workstation kept, or (`central`,
    on the central database itself) the one in force there. A kept document that no longer
    validates (an older offgate's) is not applied: ValidationError."""
    found = CentralPolicies(store).current() if central else AgentPolicy(store).kept()
    return with_central(local, None if found is None else found.document)
