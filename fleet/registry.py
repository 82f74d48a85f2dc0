"""Enrolment tokens and devices in the central database: what the admin commands
(`offgate fleet ...`, straight on the database) and the collector's enrolment share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from peewee import IntegrityError

from fleet.credentials import CREDENTIAL_PREFIX, TOKEN_PREFIX, new_public_id, new_secret, secret_hash
from fleet.wire import EnrollRequest, EnrollResponse, ErrorCode
from offgate.store import Store
from offgate.store.fleet import FleetDeviceRow, FleetTokenRow


class Refused(Exception):
    """A token or credential is not accepted; `code` is the wire's ErrorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: str
    secret: str  # shown once, never stored
    expires_at: datetime | None
    max_uses: int | None


@dataclass(frozen=True, slots=True)
class Device:
    """An enrolled device, as the collector stamps its records."""

    id: str
    name: str
    owner: str | None


def utc_now() -> datetime:
    """Now, naive UTC, as the store keeps times."""
    return datetime.now(UTC).replace(tzinfo=None)


class Registry:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    # -- tokens ---------------------------------------------------------------------------

    def create_token(self, expires_in: timedelta | None, max_uses: int | None, note: str | None = None) -> IssuedToken:
        now = utc_now()
        token = IssuedToken(new_public_id(), new_secret(TOKEN_PREFIX), now + expires_in if expires_in else None,
                            max_uses)
        with self._store.reporting("create an enrolment token in"):
            FleetTokenRow.insert(id=token.id, secret_hash=secret_hash(token.secret), created_at=now,
                                 expires_at=token.expires_at, max_uses=max_uses, uses=0,
                                 note=note).execute(self._db)
        return token

    def tokens(self) -> list[dict[str, Any]]:
        row = FleetTokenRow
        query = row.select(row.id, row.created_at, row.expires_at, row.max_uses, row.uses, row.note,
                           row.revoked_at).order_by(row.created_at)
        with self._store.reporting("read the enrolment tokens in"):
            return list(query.dicts().execute(self._db))

    def revoke_token(self, token_id: str) -> bool:
        row = FleetTokenRow
        with self._store.reporting("revoke an enrolment token in"):
            return bool(row.update(revoked_at=utc_now()).where(row.id == token_id, row.revoked_at.is_null())
                        .execute(self._db))

    # -- enrolment ------------------------------------------------------------------------

    def enroll(self, request: EnrollRequest) -> EnrollResponse:
        """Spend one use of the token and make a device with a new credential, in one
        transaction. Refused (nothing changed) when the token is unknown, expired, revoked
        or used up. A name already taken gets the device id appended."""
        now = utc_now()
        token_hash = secret_hash(request.token)
        credential = new_secret(CREDENTIAL_PREFIX)
        device_id = new_public_id()
        row = FleetTokenRow
        with self._store.reporting("enrol a device in"), self._db.atomic():
            # One conditional update takes the use, so concurrent enrolments cannot overspend it.
            spent = (row.update(uses=row.uses + 1)
                     .where(row.secret_hash == token_hash, row.revoked_at.is_null(),
                            row.expires_at.is_null() | (row.expires_at > now),
                            row.max_uses.is_null() | (row.uses < row.max_uses))
                     .execute(self._db))
            if not spent:
                raise self._why_refused(token_hash, now)
            token_id = row.select(row.id).where(row.secret_hash == token_hash).scalar(self._db)
            name = self._insert_device(device_id, request, credential, token_id, now)
        return EnrollResponse(device_id=device_id, device_name=name, credential=credential)

    def _why_refused(self, token_hash: str, now: datetime) -> Refused:
        row = FleetTokenRow
        token = row.select().where(row.secret_hash == token_hash).first(self._db)
        if token is None:
            return Refused(ErrorCode.TOKEN_UNKNOWN, "this enrolment token is unknown to the collector")
        if token.revoked_at is not None:
            return Refused(ErrorCode.TOKEN_REVOKED, f"enrolment token {token.id} was revoked")
        if token.expires_at is not None and token.expires_at <= now:
            return Refused(ErrorCode.TOKEN_EXPIRED,
                           f"enrolment token {token.id} expired at {token.expires_at.isoformat()}Z")
        return Refused(ErrorCode.TOKEN_USED_UP, f"enrolment token {token.id} was used {token.uses} times, "
                                                f"all it allows: ask for a new one")

    def _insert_device(self, device_id: str, request: EnrollRequest, credential: str, token_id: str,
                       now: datetime) -> str:
        fields = dict(id=device_id, owner=request.owner, credential_hash=secret_hash(credential), token_id=token_id,
                      enrolled_at=now, agent_version=request.agent_version, records_stored=0, acked_through=0)
        try:
            with self._db.atomic():  # a savepoint: a name clash leaves the transaction usable
                FleetDeviceRow.insert(name=request.device_name, **fields).execute(self._db)
            return request.device_name
        except IntegrityError:
            name = f"{request.device_name}-{device_id}"
            FleetDeviceRow.insert(name=name, **fields).execute(self._db)
            return name

    # -- devices --------------------------------------------------------------------------

    def authenticate(self, credential: str) -> Device:
        """The device a credential belongs to; Refused when none does or it is revoked."""
        row = FleetDeviceRow
        with self._store.reporting("look up a device in"):
            found = (row.select(row.id, row.name, row.owner, row.revoked_at)
                     .where(row.credential_hash == secret_hash(credential)).first(self._db))
        if found is None:
            raise Refused(ErrorCode.UNAUTHENTICATED, "this device credential is unknown to the collector")
        if found.revoked_at is not None:
            raise Refused(ErrorCode.DEVICE_REVOKED, f"device {found.name} was revoked at "
                                                    f"{found.revoked_at.isoformat()}Z: it may push no more")
        return Device(found.id, found.name, found.owner)

    def devices(self) -> list[dict[str, Any]]:
        """Every device, by name: what it last said of itself, and how many records it gave."""
        row = FleetDeviceRow
        query = row.select(row.id, row.name, row.owner, row.enrolled_at, row.revoked_at, row.last_seen_at,
                           row.agent_version, row.running, row.pending, row.quarantined,
                           row.records_stored).order_by(row.name)
        with self._store.reporting("read the devices in"):
            found = list(query.dicts().execute(self._db))
        for device in found:
            device["running"] = json.loads(device["running"]) if device["running"] else None
        return found

    def revoke(self, device: str) -> str | None:
        """Revoke the device named `device` (or with that id); its name, or None if there is none."""
        row = FleetDeviceRow
        with self._store.reporting("revoke a device in"), self._db.atomic():
            found = row.select(row.id, row.name).where((row.name == device) | (row.id == device)).first(self._db)
            if found is None:
                return None
            row.update(revoked_at=utc_now()).where(row.id == found.id, row.revoked_at.is_null()).execute(self._db)
        return found.name
