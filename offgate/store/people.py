"""People, not logins: who a workstation login is at the gateway (a LiteLLM user) and in
which team, so a person's managed and unmanaged spend can be counted on one row.

A mapping is for a login on one device, or on every device (`device` None); the one for the
call's own device wins. A person is named by their LiteLLM user id where one is known, else
by their login. An import replaces the whole mapping, so people who left leave with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import cast

from peewee import Case, ColumnBase, Node, fn

from offgate.store.core import Store
from offgate.store.schema import PersonRow
from offgate.store.sql import insert_rows

ANY_DEVICE = ""  # PersonRow.id's device part for a mapping that holds on every device
# A bare address: nothing a mail header could read as more than one (no spaces, commas, brackets).
_ADDRESS_PART = r'[^@\s<>,;:"()\[\]\\]+'
_ADDRESS = re.compile(f"{_ADDRESS_PART}@{_ADDRESS_PART}")


@dataclass(frozen=True, slots=True)
class Person:
    """One mapping: a workstation login (on `device`, or on any device when None) is the
    LiteLLM user `litellm_user_id` and a member of `team`; either may be unknown."""

    login: str
    device: str | None = None
    litellm_user_id: str | None = None
    team: str | None = None


class People:
    """The mapping from logins to people and teams, in one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def replace(self, people: Iterable[Person], source: str) -> int:
        """Make `people` the whole mapping, in one transaction; returns how many mappings.
        A login mapped twice on one device is a ValueError (which one would be right?)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        rows: dict[str, dict[str, object]] = {}
        for person in people:
            key = f"{person.device or ANY_DEVICE}\x1f{person.login}"
            if key in rows:
                where = f" on {person.device}" if person.device else ""
                raise ValueError(f"the login {person.login!r}{where} is mapped twice")
            rows[key] = {"id": key, **asdict(person), "source": source, "imported_at": now}
        with self._store.reporting("save people in"), self._db.atomic():
            PersonRow.delete().execute(self._db)
            insert_rows(self._db, PersonRow, rows.values())
        return len(rows)

    def all(self) -> list[Person]:
        """Every mapping, by login then device (any device first)."""
        row = PersonRow
        query = (row.select(row.login, row.device, row.litellm_user_id, row.team)
                 .order_by(row.login, fn.COALESCE(row.device, ANY_DEVICE)))
        with self._store.reporting("read people from"):
            return [Person(*found) for found in query.tuples().execute(self._db)]


    def address_of(self, name: str | None) -> str | None:
        """An email address for a person named as the gateway names them: the name itself when
        it is an address (LiteLLM user ids often are), else the one LiteLLM user id the
        mapping gives their login when that is an address; None when there is none or several."""
        if name is None or _ADDRESS.fullmatch(name):
            return name
        row = PersonRow
        query = row.select(row.litellm_user_id).where(fn.LOWER(row.login) == name.lower()).distinct()
        with self._store.reporting("read people from"):
            found = {user_id for (user_id,) in query.tuples().execute(self._db) if user_id}
        addresses = [user_id for user_id in found if _ADDRESS.fullmatch(user_id)]
        return addresses[0] if len(addresses) == 1 else None


# -- what queries join: a call's person and team, a spend row's ---------------------

# A ModelAlias answers its model's fields: typed as the model, so its columns keep their types.
ON_DEVICE = cast(type[PersonRow], PersonRow.alias("person_on_device"))
ON_ANY_DEVICE = cast(type[PersonRow], PersonRow.alias("person_on_any_device"))


def person_of_call(login: Node, device: Node) -> tuple[Node, Node]:
    """Join conditions for ON_DEVICE and ON_ANY_DEVICE (left outer) to a call's login and device."""
    return ((ON_DEVICE.login == login) & (ON_DEVICE.device == device),
            (ON_ANY_DEVICE.login == login) & ON_ANY_DEVICE.device.is_null())


def call_person(login: Node) -> ColumnBase:
    """A call's person, once ON_DEVICE and ON_ANY_DEVICE are joined: the LiteLLM user id of
    the mapping that applies where it has one, else the login."""
    return fn.COALESCE(_applied(ON_DEVICE.litellm_user_id, ON_ANY_DEVICE.litellm_user_id), login)


def call_team() -> ColumnBase:
    """A call's team, once ON_DEVICE and ON_ANY_DEVICE are joined (None: no team known)."""
    return _applied(ON_DEVICE.team, ON_ANY_DEVICE.team)


def _applied(on_device: Node, on_any_device: Node) -> ColumnBase:
    """The mapping for the call's own device wins over the one for any device."""
    return Case(None, [(ON_DEVICE.id.is_null(False), on_device)], on_any_device)

