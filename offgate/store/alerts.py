"""Alerts in offgate's store: what was raised, when, and who acknowledged it; and the
series of unmanaged usage the alerts watch.

An alert is about one thing (its key: kind, dimension, entity, metric) at one time (`ts`,
the hour or day the anomaly is in, or when something was first seen). Its id comes from
the key and the time, so evaluating the same data twice raises it once. Alerts with one key
whose times lie within the cooldown of an earlier alert are folded into that alert (its
`occurrences` grows) instead of being raised again: few alerts, each worth reading.

`Alert.to_json()` is the alert as every output shows it (`offgate alerts --json`, the
dashboard's /api/alerts) and the body the generic webhook posts: docs/schemas/alert.schema.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

from peewee import JOIN, SQL, Node, fn
from pydantic import Field, SerializerFunctionWrapHandler, computed_field, model_serializer

from offgate.contracts import Contract, UtcTime
from offgate.errors import BadInputError
from offgate.store.alert_ids import alert_id, alert_key
from offgate.store.core import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.queries import classification, group_key
from offgate.store.rollups import ONE_HOUR, HourlyUnmanagedRow, cut_window, has_rollups
from offgate.store.schema import AlertRow, ReconciledCallRow, UsageEventRow
from offgate.store.sql import between, epoch, hour, naive_utc
from offgate.vocabulary import ALERT_DIMENSIONS, UNMANAGED, AlertDimension

if TYPE_CHECKING:
    import numpy as np

Severity = Literal["info", "warning", "critical"]
AlertKind = Literal["spike", "surge", "budget", "first_seen", "unmanaged_share", "silent_device", "proxy_silent",
                    "approval_request", "approval_decided", "approval_expired", "unexplained_bill",
                    "coaching"]
AlertScope = AlertDimension | Literal["total"]  # "total": all unmanaged usage
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
KINDS: tuple[AlertKind, ...] = get_args(AlertKind)


class Alert(Contract):
    """Something unusual in the unmanaged usage, or a device fallen silent, for a person to look
    at. The generic webhook posts one alert per request, as this."""

    kind: AlertKind
    severity: Severity
    dimension: AlertScope
    """Whose usage: "total" for all unmanaged usage."""
    entity: str
    """Which user, device, app, provider or API key fingerprint ("all" for the total)."""
    metric: Literal["cost_usd", "calls", "tokens", "share", "first_call", "first_found", "last_report", "approval",
                    "policy"]
    """What was measured: "first_call" for first_seen (or "first_found": an app first found installed or
    running on a workstation), "share" for unmanaged_share, "last_report" (hours since, as the
    statistic) for silent_device and proxy_silent, "approval" for approval_request (a call the
    gateway held under the policy, for an approver to decide), approval_decided and approval_expired
    (an approver's decision on it, or the approval's end, for the person whose call it was),
    "policy" for coaching (an app's direct calls the proxy blocked or coached under the policy:
    the person is told how to use the gateway)."""
    ts: UtcTime
    """The start of the anomalous hour or day, the first call, or when a silence began."""
    message: str
    """One plain sentence for a manager."""
    statistic: float | None = None
    """What was observed (or forecast)."""
    baseline: float | None = None
    """What was expected."""
    p_value: float | None = None
    """How likely the statistic is under the entity's usual usage."""
    q_value: float | None = None
    """The p-value adjusted for the many entities tested together."""
    details: dict[str, Any] = Field(default_factory=dict)
    """The figures behind the alert, by kind."""
    raised_at: UtcTime | None = None
    """When offgate raised it (set by the store, as are the fields after it)."""
    last_seen_at: UtcTime | None = None
    """When the same thing was last seen again, within the cooldown."""
    occurrences: int = 1
    """How many times it was seen within the cooldown."""
    acked_at: UtcTime | None = None
    """When it was acknowledged; null while it is open."""
    acked_by: str | None = None
    """Who acknowledged it."""

    @property
    def key(self) -> str:
        return alert_key(f"{self.kind}|{self.dimension}|{self.entity}|{self.metric}", self.kind,
                         self.details.get("request_id"))

    @computed_field
    @property
    def id(self) -> str:
        """From the key and the time: the same alert raised twice has one id."""
        return alert_id(self.key, self.ts)

    @computed_field
    @property
    def acked(self) -> bool:
        """Whether it was acknowledged."""
        return self.acked_at is not None

    # No return annotation: with one, the JSON Schema would say only "an object".
    @model_serializer(mode="wrap")
    def _id_first(self, serialize: SerializerFunctionWrapHandler):
        fields = serialize(self)
        return {"id": fields.pop("id"), **fields}

    def to_json(self) -> dict[str, Any]:
        """The alert as JSON-ready fields (times in ISO 8601 UTC), as every output shows it."""
        return self.model_dump(mode="json")


class UnknownAlertError(BadInputError):
    def __str__(self) -> str:
        return f"no alert has the id {self.args[0]!r}"


class AlertStore:
    """The alert table of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def raise_alerts(self, alerts: Sequence[Alert], cooldown: timedelta, now: datetime | None = None) -> list[Alert]:
        """Store the alerts; returns those that are new (to be notified), oldest first. An
        alert already stored, or within `cooldown` of a stored alert with its key, is not new:
        that stored alert's `last_seen_at` and `occurrences` are updated instead."""
        now = naive_utc(now or datetime.now(UTC))
        new: list[Alert] = []
        row = AlertRow
        with self._store.reporting("write alerts to"), self._db.atomic():
            for alert in sorted(alerts, key=lambda a: (naive_utc(a.ts), a.key)):
                ts = naive_utc(alert.ts)
                if row.select().where(row.id == alert.id).exists(self._db):
                    continue
                earlier = (row.select().where(row.key == alert.key, row.ts.between(ts - cooldown, ts + cooldown))
                           .order_by(row.ts).first(self._db))
                if earlier is not None:
                    (row.update(last_seen_at=now, occurrences=row.occurrences + 1)
                     .where(row.id == earlier.id).execute(self._db))
                    continue
                alert.raised_at = alert.last_seen_at = now.replace(tzinfo=UTC)
                row.insert(_row_from(alert, now)).execute(self._db)
                new.append(alert)
        return new

    def alerts(self, include_acked: bool = False, since: datetime | None = None,
               limit: int | None = None, about: CallFilter = ALL_CALLS) -> list[Alert]:
        """Stored alerts, newest first (by ts); unacknowledged ones only unless asked. With
        `about`: only the alerts about one of its devices or users."""
        row = AlertRow
        query = row.select()
        if about:
            query = query.where(((row.dimension == "device") & row.entity.in_(list(about.devices)))
                                | ((row.dimension == "user") & row.entity.in_(list(about.users))))
        if not include_acked:
            query = query.where(row.acked_at.is_null())
        if since is not None:
            query = query.where(row.ts >= naive_utc(since))
        query = query.order_by(row.ts.desc(), row.id)
        if limit is not None:
            query = query.limit(limit)
        with self._store.reporting("read alerts from"):
            return [_alert_from(found) for found in query.dicts().execute(self._db)]

    def get(self, alert_id: str) -> Alert:
        with self._store.reporting("read alerts from"):
            found = AlertRow.select().where(AlertRow.id == alert_id).dicts().first(self._db)
        if found is None:
            raise UnknownAlertError(alert_id)
        return _alert_from(found)

    def ack(self, alert_id: str, by: str | None = None, now: datetime | None = None) -> Alert:
        """Acknowledge an alert (again is harmless: the first time is kept)."""
        now = naive_utc(now or datetime.now(UTC))
        with self._store.reporting("acknowledge an alert in"), self._db.atomic():
            (AlertRow.update(acked_at=now, acked_by=by)
             .where(AlertRow.id == alert_id, AlertRow.acked_at.is_null()).execute(self._db))
        return self.get(alert_id)


def _row_from(alert: Alert, now: datetime) -> dict[str, Any]:
    fields = dict(alert)  # the stored fields, as they are
    fields.update(id=alert.id, key=alert.key, ts=naive_utc(alert.ts), raised_at=now, last_seen_at=now,
                  details=json.dumps(alert.details, sort_keys=True, default=str))
    return fields


def _alert_from(row: dict[str, Any]) -> Alert:
    row = dict(row)
    row.pop("id")
    row.pop("key")
    row["details"] = json.loads(row["details"])
    for name in ("ts", "raised_at", "last_seen_at", "acked_at"):
        if row[name] is not None:
            row[name] = row[name].replace(tzinfo=UTC)
    return Alert(**row)


@dataclass(frozen=True, slots=True)
class CombinationHours:
    """Unmanaged calls per combination of dimension values and UTC hour, as arrays:
    `values[i]` is combination i's values (in the order asked); per (combination, hour) with
    calls, the combination's index, the hour (whole hours since the epoch), its calls, tokens
    (prompt + completion) and cost (unpriced calls count 0). `first_calls`: when every
    combination the store holds (in the window or not) made its first unmanaged call, ever
    (UTC epoch seconds)."""

    values: list[tuple[str | None, ...]]
    combination: np.ndarray
    hour: np.ndarray
    calls: np.ndarray
    tokens: np.ndarray
    cost_usd: np.ndarray
    first_calls: dict[tuple[str | None, ...], float]


class UnmanagedSeries:
    """Unmanaged calls (classified as offgate.store.queries counts them) in one Store, per
    dimension value and hour, as the alerts read them: as columns, a million calls cheaply."""

    def __init__(self, store: Store, rollups: bool = True) -> None:
        self._store = store
        self._db = store.database
        self._rollups = rollups and has_rollups(self._db)  # False: read the records themselves

    def hours(self, since: datetime | None, until: datetime | None, by: Sequence[str]) -> CombinationHours:
        """Unmanaged calls in [since, until) per combination of values of the dimensions in
        `by` and UTC hour. Whole hours come from the hourly rollup where the store keeps one,
        the window's ends from the records; no (values, hour) is counted twice either way.
        The first calls come from the window's read and from what lies outside it: the window's
        rows are read once (a round's window is most of the store)."""
        window = cut_window(self._db, since, until, ONE_HOUR, self._rollups)
        parts = [self._hours(UsageEventRow, start, end, by) for start, end in window.raw]
        if window.rolled is not None:
            parts.append(self._hours(HourlyUnmanagedRow, *window.rolled, by))
        outside = self._first_calls_outside(window.rolled if self._rollups else (since, until), by)
        with self._store.reporting("total unmanaged calls in"):
            if self._rollups:
                found = self._packed(parts, len(by))
            else:
                found = _from_rows([row for part in parts for row in self._db.execute(part).fetchall()], len(by))
            earlier: list[tuple[Any, ...]] = [] if outside is None else self._db.execute(outside).fetchall()
        _keep_first_calls(found.first_calls, ((tuple(values), first) for *values, first in earlier))
        return found

    def _first_calls_outside(self, read: tuple[datetime | None, datetime | None] | None, by: Sequence[str]) -> Any:
        """The query of each combination's first unmanaged call among the rows of the rollup
        (or the records, without one) that the window's read did not take: those outside
        `read` ([start, end), either end open when None), or all of them when `read` is None;
        one row (values..., first) each. None when the read took every row."""
        table = HourlyUnmanagedRow if self._rollups else UsageEventRow
        timed, first = (HourlyUnmanagedRow.hour, HourlyUnmanagedRow.first_ts) if self._rollups else (
            UsageEventRow.ts, UsageEventRow.ts)
        columns = [group_key(name, table) for name in by]
        query = table.select(*columns, fn.MIN(epoch(self._db, first)))
        if not self._rollups:
            query = _unmanaged(query, None, None)
        if read is not None:
            start, end = read
            beyond: list[Any] = [*([] if start is None else [timed < naive_utc(start)]),
                                 *([] if end is None else [timed >= naive_utc(end)])]
            if not beyond:
                return None
            query = query.where(beyond[0] if len(beyond) == 1 else beyond[0] | beyond[1])
        return query.group_by(*[SQL(str(at)) for at in range(1, len(by) + 1)])

    def _packed(self, parts: list[Any], dimensions: int) -> CombinationHours:
        """One row per combination, its hours packed by PostgreSQL as binary, 32 bytes each:
        calls, tokens (int8send), cost (float8send) and the hour (timestamp_send: microseconds
        since 2000, big-endian, exact), read by numpy as they come: a million (values, hour)
        rows crossing as Python tuples would cost more than the alert round's arithmetic. Rows
        go as the rollup keeps them (no epoch computed per row: that was most of the query)."""
        import numpy as np  # not at the top: the proxy imports the store, and never numpy

        unions: list[tuple[str, list[Any]]] = [part.bind(self._db).sql() for part in parts]
        rows = " UNION ALL ".join(f"({text})" for text, _ in unions)
        keys = ", ".join(f"k{at}" for at in range(dimensions))
        names = ", ".join([*(f"k{at}" for at in range(dimensions)), "hour", "calls", "tokens", "cost_usd", "first"])
        packed = ("string_agg(int8send(calls::int8) || int8send(tokens::int8) || float8send(cost_usd::float8) "
                  "|| timestamp_send(hour), ''::bytea)")
        with self._db.atomic():
            cursor = self._db.cursor()
            cursor.execute("SET LOCAL jit = off")  # compiling costs more than it saves on a few million rows
            cursor.execute(f"SELECT {keys}, {packed}, EXTRACT(EPOCH FROM min(first))::float8 "
                           f"FROM ({rows}) AS r ({names}) GROUP BY {keys} ORDER BY {keys}",
                           [value for _, params in unions for value in params])
            found = cursor.fetchall()
        values = [tuple(row[:dimensions]) for row in found]
        packed_hour = np.dtype(_PACKED_HOUR)
        hours = np.frombuffer(b"".join(bytes(row[dimensions]) for row in found), packed_hour)
        combination = np.repeat(np.arange(len(found)), [len(row[dimensions]) // packed_hour.itemsize for row in found])
        return CombinationHours(values, combination, hours["hour"] // _HOUR_MICROSECONDS + _HOURS_BEFORE_2000,
                                hours["calls"].astype(np.int64), hours["tokens"].astype(np.int64),
                                hours["cost_usd"].astype(float),
                                {value: row[-1] for value, row in zip(values, found, strict=True)})

    def _hours(self, table: type[UsageEventRow] | type[HourlyUnmanagedRow], since: datetime | None,
               until: datetime | None, by: Sequence[str]) -> Any:
        """The query of (values..., hour, calls, tokens, cost, first call) rows, one per (values,
        hour): the hour and the first call as timestamps for the packed read (PostgreSQL with
        the rollups), else as whole hours and epoch seconds."""
        columns: dict[str, Node] = {name: group_key(name, table) for name in by}
        if table is HourlyUnmanagedRow:
            rolled = HourlyUnmanagedRow
            if set(by) == set(ALERT_DIMENSIONS):  # the rollup's own grain: a row per (values, hour) already
                columns.update(hour=rolled.hour, calls=rolled.calls, tokens=rolled.tokens, cost_usd=rolled.cost_usd,
                               first=rolled.first_ts)
                return between(rolled.select(*columns.values()), rolled.hour, since, until)
            columns.update(hour=rolled.hour, calls=fn.SUM(rolled.calls), tokens=fn.SUM(rolled.tokens),
                           cost_usd=fn.SUM(rolled.cost_usd), first=fn.MIN(rolled.first_ts))
            query = between(rolled.select(*columns.values()), rolled.hour, since, until)
        else:
            event = UsageEventRow
            packed = self._rollups
            columns.update(hour=fn.date_trunc("hour", event.ts) if packed else hour(self._db, event.ts),
                           calls=fn.COUNT(SQL("*")),
                           tokens=fn.SUM(fn.COALESCE(event.prompt_tokens, 0) + fn.COALESCE(event.completion_tokens, 0)),
                           cost_usd=fn.SUM(fn.COALESCE(event.cost_usd, 0.0)),
                           first=fn.MIN(event.ts if packed else epoch(self._db, event.ts)))
            query = _unmanaged(event.select(*columns.values()), since, until)
        return query.group_by(*[SQL(str(at)) for at in range(1, len(by) + 2)])


_PACKED_HOUR = [("calls", ">i8"), ("tokens", ">i8"), ("cost_usd", ">f8"), ("hour", ">i8")]  # a numpy dtype
_HOUR_MICROSECONDS = 3_600_000_000
_HOURS_BEFORE_2000 = 10_957 * 24  # timestamp_send counts from 2000-01-01


def _unmanaged(query: Any, since: datetime | None, until: datetime | None) -> Any:
    query = query.join(ReconciledCallRow, JOIN.LEFT_OUTER, on=(ReconciledCallRow.event_id == UsageEventRow.id))
    return between(query.where(classification() == UNMANAGED), UsageEventRow.ts, since, until)


def _keep_first_calls(firsts: dict[tuple[str | None, ...], float],
                      found: Iterable[tuple[tuple[str | None, ...], float]]) -> None:
    """Each (combination, first call) found, kept in `firsts` when it is the combination's earliest."""
    for combination, first in found:
        firsts[combination] = min(firsts.get(combination, first), first)


def _from_rows(rows: Sequence[tuple[Any, ...]], dimensions: int) -> CombinationHours:
    """CombinationHours from (values..., hour, calls, tokens, cost, first call) rows, combinations in order."""
    import numpy as np  # not at the top: the proxy imports the store, and never numpy

    values = sorted({tuple(row[:dimensions]) for row in rows}, key=lambda key: [(value is None, value or "")
                                                                                 for value in key])
    index = {combination: at for at, combination in enumerate(values)}
    hours, calls, tokens, cost, _ = list(zip(*rows, strict=True))[dimensions:] if rows else [()] * 5
    firsts: dict[tuple[str | None, ...], float] = {}
    _keep_first_calls(firsts, ((tuple(row[:dimensions]), row[-1]) for row in rows))
    return CombinationHours(values, np.array([index[tuple(row[:dimensions])] for row in rows], dtype=np.int64),
                            np.array(hours, dtype=np.int64), np.array(calls, dtype=np.int64),
                            np.array(tokens, dtype=np.int64), np.array(cost, dtype=float), firsts)
