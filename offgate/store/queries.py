"""The report's group-bys and the dashboard's feed of calls, read from offgate's store as
typed rows. A call's class is as reconciled, else by its route (gateway or unmanaged), so
calls not reconciled yet are counted too."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from peewee import JOIN, SQL, Case, ColumnBase, Database, Field, Select, Value, fn

from offgate.events import UsageEvent
from offgate.store.core import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.people import ON_ANY_DEVICE, ON_DEVICE, PersonRow, call_person, call_team, person_of_call
from offgate.store.rollups import ONE_DAY, DailyUsageRow, Window, WindowEdgeRow, cut_window, has_rollups, roll_up_edges
from offgate.store.schema import ReconciledCallRow, SpendLogRow, UsageEventRow
from offgate.store.sql import between, flag, week_start
from offgate.vocabulary import DAY, DIMENSION_COLUMNS, GATEWAY, TEAM, UNMANAGED

PERSON_KEYS = frozenset({"user", TEAM})  # read through the people mapping
COST_NOTE = "cost_note"  # what a cost stands for (offgate.pricing_basis): a key to group by, beside the dimensions
POLICY_OUTCOME = "policy_outcome"  # groups calls by what the policy did to them: coached, blocked or nothing
WEEK = "week"  # groups calls by their UTC week, as the date of its Monday (YYYY-MM-DD, as "day")


@dataclass(frozen=True, slots=True)
class CallGroup:
    """Captured calls alike in the names grouped by (`keys`: name -> value; "day" is the
    UTC date, YYYY-MM-DD) and in their class, whether reconciled, whether matched to a
    spend row, whether their tokens are estimated and whether a web app made them.
    `spend` sums the matched rows' logged cost; `unpriced_spend` counts the matched rows
    that logged none (unknown, in no sum)."""

    keys: dict[str, Any]
    classification: str
    reconciled: bool
    matched: bool
    estimated: bool
    web_app: bool
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    unpriced_calls: int
    spend: float
    unpriced_spend: int


@dataclass(frozen=True, slots=True)
class ClassCount:
    """How many captured calls alike in `keys` (as CallGroup's) were of one class."""

    keys: dict[str, Any]
    classification: str
    calls: int


@dataclass(frozen=True, slots=True)
class LatestCall:
    """One captured call (its `ts` aware UTC), its class as CallGroup counts it, and whether
    it is reconciled."""

    event: UsageEvent
    classification: str
    reconciled: bool


_FLAGS = ("reconciled", "matched", "estimated", "web_app")
_COUNTS = ("calls", "prompt_tokens", "completion_tokens", "unpriced_calls", "unpriced_spend")
_SUMS = ("calls", "prompt_tokens", "completion_tokens", "cost_usd", "unpriced_calls", "spend", "unpriced_spend")


class CallQueries:
    """Calls counted for the report, and the newest ones for the dashboard, in one Store."""

    def __init__(self, store: Store, rollups: bool = True) -> None:
        self._store = store
        self._db = store.database
        self._rollups = rollups and has_rollups(self._db)  # False: count the records themselves
        self._window: tuple[datetime | None, datetime | None, Window] | None = None  # inside window(): its cut

    @property
    def store(self) -> Store:
        return self._store

    @contextmanager
    def window(self, since: datetime | None, until: datetime | None) -> Generator[CallQueries]:
        """Inside the block, reads of [since, until) take the window's ragged edges from one pass
        over their records (WindowEdgeRow, in a transaction), not one pass each: at fleet scale an
        edge holds up to a day of records (2M at 10,000 devices x 200 calls a day), the rollups
        far fewer rows. JIT compiling is off in the block (it costs more than it saves on them), and
        each sort or hash may take 64 MB."""
        if not self._rollups:
            yield self  # the records only: a workstation's few
            return
        window = cut_window(self._db, since, until, ONE_DAY, self._rollups)
        with self._db.atomic():
            with self._store.reporting("total calls in"):
                self._db.execute_sql("SET LOCAL jit = off")
                # Room to group an edge's records by hashing them, not by sorting them on disk (a day at
                # 10,000 devices: hundreds of thousands of groups).
                self._db.execute_sql("SET LOCAL work_mem = '64MB'")
                if window.raw and window.rolled is not None:
                    roll_up_edges(self._db, window.raw)
                    self._window = (since, until, window)
            try:
                yield self
            finally:
                self._window = None

    def call_groups(self, since: datetime | None, until: datetime | None, by: Sequence[str],
                    web_app_providers: Sequence[str] = (), only: CallFilter = ALL_CALLS) -> list[CallGroup]:
        """Captured calls in [since, until) (those `only` keeps) counted and summed per value
        of `by` (dimensions, "day", WEEK, "cost_note" or POLICY_OUTCOME; "user" is the person, "team"
        theirs: offgate.store.people), class, and the flags of CallGroup (read as _parts says)."""
        parts = self._parts(since, until, lambda table, start, end: self._groups(table, start, end, by,
                                                                                 web_app_providers, only))
        return _merged(parts, by)

    def class_counts(self, since: datetime | None, until: datetime | None, by: Sequence[str],
                     only: CallFilter = ALL_CALLS) -> list[ClassCount]:
        """Captured calls in [since, until) (those `only` keeps) counted per value of `by` (as
        call_groups reads them) and class: call_groups' counting without its sums and flags,
        for a part that needs only how many calls went which way (read as _parts says)."""
        parts = self._parts(since, until, lambda table, start, end: self._class_counts(table, start, end, by, only))
        if len(parts) == 1:
            return parts[0]
        merged: dict[tuple[Any, ...], int] = {}
        for count in (count for part in parts for count in part):
            key = (*(count.keys[name] for name in by), count.classification)
            merged[key] = merged.get(key, 0) + count.calls
        return [ClassCount(keys=dict(zip(by, key[:-1], strict=True)), classification=key[-1], calls=calls)
                for key, calls in merged.items()]

    def _parts[T](self, since: datetime | None, until: datetime | None,
                  read: Callable[[CallTable, datetime | None, datetime | None], list[T]]) -> list[list[T]]:
        """What `read` finds in each part of [since, until): the whole days from the daily
        rollup where the store keeps one, the window's ragged ends from the records (inside
        window(), from their rollup made once)."""
        if self._window is not None and self._window[:2] == (since, until):
            window = self._window[2]
            parts = [read(WindowEdgeRow, None, None)]  # already cut to the edges
        else:
            window = cut_window(self._db, since, until, ONE_DAY, self._rollups)
            parts = [read(UsageEventRow, start, end) for start, end in window.raw]
        if window.rolled is not None:
            parts.append(read(DailyUsageRow, *window.rolled))
        return parts

    def _groups(self, table: CallTable, since: datetime | None, until: datetime | None, by: Sequence[str],
                web_app_providers: Sequence[str], only: CallFilter) -> list[CallGroup]:
        """call_groups over the records (UsageEventRow) or the daily rollup (whole days)."""
        rolled = issubclass(table, DailyUsageRow)
        event, call, spend = UsageEventRow, ReconciledCallRow, SpendLogRow
        source: Any = table
        web_app = flag(source.provider.in_(list(web_app_providers))) if web_app_providers else Value(0)
        if rolled:
            flags = [flag(source.classification.is_null(False)), flag(source.matched == True),  # noqa: E712 - SQL
                     flag(source.tokens_estimated == True), web_app]  # noqa: E712 - SQL, not Python
            sums = [fn.SUM(getattr(source, name)) for name in _SUMS]
        else:
            flags = [flag(call.event_id.is_null(False)), flag(call.spend_request_id.is_null(False)),
                     flag(event.tokens_estimated == True), web_app]  # noqa: E712 - SQL, not Python
            sums = [fn.COUNT(SQL("*")), fn.SUM(event.prompt_tokens), fn.SUM(event.completion_tokens),
                    fn.SUM(event.cost_usd), fn.SUM(flag(event.cost_usd.is_null())), fn.SUM(spend.spend),
                    fn.SUM(flag(call.spend_request_id.is_null(False) & spend.spend.is_null()))]
        alike = {"classification": _class_of(source), **dict(zip(_FLAGS, flags, strict=True))}

        def narrowed(query: Any) -> Any:
            if not rolled:
                query = (query.join(call, JOIN.LEFT_OUTER, on=(call.event_id == event.id))
                         .join(spend, JOIN.LEFT_OUTER, on=(spend.request_id == call.spend_request_id)))
            return only.apply(between(query, _time_of(source), since, until), source.device, source.user)

        query = _group_query(source, by, self._db, alike, dict(zip(_SUMS, sums, strict=True)), narrowed)
        with self._store.reporting("total calls in"):
            groups = list(query.dicts().execute(self._db))
        return [_call_group(group, by) for group in groups]

    def _class_counts(self, table: CallTable, since: datetime | None, until: datetime | None, by: Sequence[str],
                      only: CallFilter) -> list[ClassCount]:
        """class_counts over the records (UsageEventRow) or the daily rollup (whole days)."""
        source: Any = table
        rolled, call = issubclass(table, DailyUsageRow), ReconciledCallRow

        def narrowed(query: Any) -> Any:
            if not rolled:
                query = query.join(call, JOIN.LEFT_OUTER, on=(call.event_id == source.id))
            return only.apply(between(query, _time_of(source), since, until), source.device, source.user)

        calls = fn.SUM(source.calls) if rolled else fn.COUNT(SQL("*"))
        query = _group_query(source, by, self._db, {"classification": _class_of(source)}, {"calls": calls}, narrowed)
        with self._store.reporting("count calls in"):
            found = self._db.execute(query).fetchall()  # the driver's values: peewee's per-row conversion costs more
        return [ClassCount(keys=_keys(dict(zip(by, row[:-2], strict=True))), classification=row[-2], calls=int(row[-1]))
                for row in found]

    def uncaptured_spend(self, since: datetime | None, until: datetime | None) -> list[PersonSpend]:
        """Spend rows starting in [since, until) whose LiteLLM user is someone's in the people
        mapping and that no captured gateway call was paired with (those count with their
        call), per person and their team."""
        spend, call = SpendLogRow, ReconciledCallRow
        person = PersonRow
        teams = (person.select(person.litellm_user_id, fn.MIN(person.team).alias("team"))
                 .where(person.litellm_user_id.is_null(False)).group_by(person.litellm_user_id).alias("teams"))
        paired = call.select(call.spend_request_id).where((call.classification == GATEWAY)
                                                          & call.spend_request_id.is_null(False))
        query = between(
            spend.select(spend.user, teams.c.team, fn.COUNT(SQL("*")), fn.SUM(spend.spend),
                         fn.SUM(flag(spend.spend.is_null())))
            .join(teams, on=(teams.c.litellm_user_id == spend.user))
            .where(spend.request_id.not_in(paired))
            .group_by(SQL("1"), SQL("2")),
            spend.start_time, since, until,
        )
        with self._store.reporting("total people's spend in"):
            found = list(query.tuples().execute(self._db))
        return [PersonSpend(user, team, int(rows), float(total or 0.0), int(unpriced))
                for user, team, rows, total, unpriced in found]

    def latest_calls(self, limit: int) -> list[LatestCall]:
        """The newest `limit` captured calls, newest first."""
        event, call = UsageEventRow, ReconciledCallRow
        query = (event.select(event, classification().alias("classification"),
                              flag(call.event_id.is_null(False)).alias("reconciled"))
                 .join(call, JOIN.LEFT_OUTER, on=(call.event_id == event.id))
                 .order_by(event.ts.desc(), event.id.desc()).limit(limit))
        with self._store.reporting("read calls from"):
            calls = list(query.dicts().execute(self._db))
        return [LatestCall(classification=found.pop("classification"), reconciled=bool(found.pop("reconciled")),
                           event=UsageEvent.model_validate(found)) for found in calls]


@dataclass(frozen=True, slots=True)
class PersonSpend:
    """LiteLLM spend rows of one person (their LiteLLM user id) no agent saw the call of."""

    person: str
    team: str | None
    rows: int
    spend: float
    unpriced_rows: int


def classification(reconciled: Field = ReconciledCallRow.classification,
                   route: Field = UsageEventRow.route) -> ColumnBase:
    """A captured call's class: as reconciled, else by its route (gateway or unmanaged).
    Queries using it join ReconciledCallRow (left outer) to UsageEventRow, or read a rollup's columns."""
    by_route = Case(None, [(route == "gateway", GATEWAY)], UNMANAGED)
    return fn.COALESCE(reconciled, by_route)


CallTable = type[UsageEventRow] | type[DailyUsageRow]  # the records, or the daily rollup of whole days (or edges)


def _key_columns(source: Any, by: Sequence[str], database: Database) -> list[ColumnBase]:
    """The columns grouped by (none a person's: _group_query joins those), named as `by`, over
    the records or a rollup (`source`)."""
    return [(week_start(database, group_key(DAY, source)) if name == WEEK else group_key(name, source)).alias(name)
            for name in by]


def _class_of(source: Any) -> ColumnBase:
    rolled = issubclass(source, DailyUsageRow)
    return classification(source.classification, source.route) if rolled else classification()


def _time_of(source: Any) -> Field:
    return source.day if issubclass(source, DailyUsageRow) else source.ts


def _group_query(source: Any, by: Sequence[str], database: Database, alike: dict[str, ColumnBase],
                 sums: dict[str, ColumnBase], narrowed: Callable[[Any], Any]) -> Any:
    """SELECT `by`'s keys, `alike` (columns the calls of a group share) and `sums` (aggregates)
    FROM `source`, grouped, with `narrowed`'s joins and filters. By person or team: grouped by
    login and device first and the people mapping joined to those groups, not to every row of
    a month's rollup (10,000 people: a million rows)."""
    if not PERSON_KEYS.intersection(by):
        keys = _key_columns(source, by, database)
        query = source.select(*keys, *_aliased(alike), *_aliased(sums))
        return _grouped(narrowed(query), len(keys) + len(alike))
    plain = [name for name in by if name not in PERSON_KEYS]
    keys = [*_key_columns(source, plain, database), source.user.alias(_LOGIN), source.device.alias(_DEVICE)]
    inner = _grouped(narrowed(source.select(*keys, *_aliased(alike), *_aliased(sums))),
                     len(keys) + len(alike)).alias("calls")
    login, device = getattr(inner.c, _LOGIN), getattr(inner.c, _DEVICE)
    on_device, on_any_device = person_of_call(login, device)
    columns = [((call_person(login) if name == "user" else call_team()) if name in PERSON_KEYS
                else getattr(inner.c, name)).alias(name) for name in by]
    columns += [getattr(inner.c, name).alias(name) for name in alike]
    columns += [fn.SUM(getattr(inner.c, name)).alias(name) for name in sums]
    query = (Select([inner], columns).join(ON_DEVICE, JOIN.LEFT_OUTER, on=on_device)
             .join(ON_ANY_DEVICE, JOIN.LEFT_OUTER, on=on_any_device))
    return _grouped(query, len(by) + len(alike))


_LOGIN, _DEVICE = "call_login", "call_device"  # the inner grouping's login and device, which the people join on


def _aliased(columns: dict[str, ColumnBase]) -> list[ColumnBase]:
    return [column.alias(name) for name, column in columns.items()]


def _grouped(query: Any, columns: int) -> Any:
    """The query grouped by its first `columns` columns."""
    return query.group_by(*[SQL(str(position)) for position in range(1, columns + 1)])


def group_key(name: str, table: Any = UsageEventRow) -> ColumnBase:
    """The expression a dimension, "day", "cost_note" or POLICY_OUTCOME groups by, over
    usage_event or a rollup (which keeps the dimensions' columns under their usage_event names,
    and the day; the daily rollup the cost note and policy outcome too)."""
    if name == DAY:
        return fn.DATE(UsageEventRow.ts) if table is UsageEventRow else table.day
    if name in (COST_NOTE, POLICY_OUTCOME):
        return getattr(table, name)
    if name not in DIMENSION_COLUMNS:
        raise ValueError(f"cannot group calls by {name!r}: one of {DAY}, {COST_NOTE}, {POLICY_OUTCOME}, "
                         f"{', '.join(DIMENSION_COLUMNS)}")
    return getattr(table, DIMENSION_COLUMNS[name])


def _keys(keys: dict[str, Any]) -> dict[str, Any]:
    """The keys as read, a day or week as YYYY-MM-DD (SQLite reads it as text, PostgreSQL as a date)."""
    for name in (DAY, WEEK):
        if name in keys:
            keys[name] = str(keys[name])[:10]
    return keys


def _call_group(group: dict[str, Any], by: Sequence[str]) -> CallGroup:
    keys = _keys({name: group[name] for name in by})
    # SQLite's flags are 0/1 and PostgreSQL sums integers as NUMERIC: hand out bools, ints and floats.
    values: dict[str, Any] = {name: bool(group[name]) for name in _FLAGS} | {
        name: int(group[name] or 0) for name in _COUNTS}
    return CallGroup(keys=keys, classification=group["classification"], cost_usd=float(group["cost_usd"] or 0.0),
                     spend=float(group["spend"] or 0.0), **values)


def _merged(parts: list[list[CallGroup]], by: Sequence[str]) -> list[CallGroup]:
    """Groups read from several parts of a window (the rollup's days, the records' ends) as one."""
    if len(parts) == 1:
        return parts[0]
    merged: dict[tuple[Any, ...], CallGroup] = {}
    for group in (group for part in parts for group in part):
        key = (*(group.keys[name] for name in by), group.classification, group.reconciled, group.matched,
               group.estimated, group.web_app)
        if (earlier := merged.get(key)) is None:
            merged[key] = group
        else:
            merged[key] = replace(earlier, **{name: getattr(earlier, name) + getattr(group, name) for name in _SUMS})
    return list(merged.values())
