"""What `offgate status` says of the fleet on a workstation: enrolled or not, where it
pushes, whether the collector still takes its pushes, and how much waits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fleet.enrolment import EnrolmentError, load_enrolment
from fleet.outbox import Outbox
from fleet.pusher import PushState, load_state
from offgate.store import Store, StoreError
from offgate.store.policies import AgentPolicy


def status_lines(home: Path, store: Store | None) -> list[str]:
    try:
        enrolment = load_enrolment(home)
    except EnrolmentError as exc:
        return [f"fleet:     {exc}"]
    if enrolment is None:
        return ["fleet:     not enrolled (records stay here; `offgate enroll URL --token SECRET` sends them to a "
                "collector)"]
    state = load_state(home)
    if state is not None and state.device_id != enrolment.device_id:
        state = None
    where = f"device {enrolment.device_name} at {enrolment.collector}"
    if state is not None and state.refused:
        lines = [f"fleet:     REVOKED: {where} no longer takes this device's pushes; pushing has stopped "
                 f"(`offgate enroll` with a new token resumes it)"]
    else:
        lines = [f"fleet:     {where}, enrolled {_when(enrolment.enrolled_at)} (`offgate up` or `offgate push` "
                 "pushes)"]
    pushed = "never yet" if state is None or state.last_success_at is None else _when(state.last_success_at)
    waiting = _waiting(store)
    lines.append(f"pushed:    last {pushed}; {waiting}")
    if state is not None and state.last_error and not state.refused:
        lines.append(f"push error: {state.last_error}")
    return lines + _policy(store, state) + _quarantined(store)


def _policy(store: Store | None, state: PushState | None) -> list[str]:
    lines: list[str] = []
    try:
        kept = None if store is None else AgentPolicy(store).kept()
    except StoreError:
        kept = None  # the line above says the store is unavailable
    if kept is not None and kept.document is not None:
        received = _when(kept.at.replace(tzinfo=UTC))
        lines.append(f"policy:    the central policy version {kept.version} (received {received}), over config.toml's "
                     "[policy]")
    if state is not None and state.policy_error:
        lines.append(f"policy error: {state.policy_error}")
    return lines


def _waiting(store: Store | None) -> str:
    if store is None:
        return "records waiting: unknown (store unavailable)"
    try:
        return f"{Outbox(store).pending()} outbox entries waiting"
    except StoreError as exc:
        return f"records waiting: unknown ({exc})"


def _quarantined(store: Store | None) -> list[str]:
    if store is None:
        return []
    try:
        quarantine = Outbox(store).quarantined()
    except StoreError:
        return []  # the line above says the store is unavailable
    if not quarantine.entries:
        return []
    return [f"quarantined: {quarantine.entries} outbox entries the collector refused (newest: "
            f"{quarantine.newest_reason}); they stay in this store and are not pushed again"]


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def enrolment_text(home: Path) -> str:
    """One line for `offgate up`: where it pushes, if anywhere."""
    try:
        enrolment = load_enrolment(home)
    except EnrolmentError as exc:
        return str(exc)
    if enrolment is None:
        return "not enrolled (offgate enroll URL --token SECRET)"
    return f"pushing to {enrolment.collector} as device {enrolment.device_name}"
