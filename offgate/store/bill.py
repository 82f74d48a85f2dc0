"""The providers' bills in offgate's store (table BillLineRow): one line per provider, UTC
day, model, key and billed account, as imported by `offgate bill import`.

A line's id is its natural key, so importing a bill again replaces its lines (a provider may
still revise a recent day) and adds none twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from peewee import SQL, fn

from offgate.store.bill_rollups import PICO, BillCallsDailyRow, BillSpendDailyRow
from offgate.store.core import Store
from offgate.store.schema import BillLineRow
from offgate.store.sql import insert_rows
from offgate.vocabulary import UNMANAGED

LOOKUP_BATCH = 5000  # ids per IN (...): well under SQLite's limit on parameters
GROUPS_BATCH = 100_000  # rows fetched at once while totalling a bill


@dataclass(frozen=True, slots=True)
class BillLine:
    """What one key cost on one day for one model, tokens by the class they were billed at."""

    provider: str
    day: date
    model: str | None
    key_id: str | None
    key_hint: str | None
    account: str | None
    input_tokens: int = 0  # uncached
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    requests: int | None = None
    batch: bool = False
    cost_usd: float | None = None

    @property
    def id(self) -> str:
        return ":".join((self.provider, self.account or "-", self.day.isoformat(), self.model or "-",
                         self.key_id or self.key_hint or "-", "batch" if self.batch else "sync"))


class BillLog:
    """The bill lines of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def add(self, lines: Sequence[BillLine], source: str) -> int:
        """Store lines in one transaction, replacing those stored already; returns how many
        were new or changed."""
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = {line.id: {**asdict(line), "id": line.id, "source": source, "imported_at": now} for line in lines}
        ids = list(rows)
        with self._store.reporting("write bill lines to"), self._db.atomic():
            stored = {row.id: row for start in range(0, len(ids), LOOKUP_BATCH)
                      for row in BillLineRow.select().where(BillLineRow.id.in_(ids[start:start + LOOKUP_BATCH]))
                      .execute(self._db)}
            changed = [row for key, row in rows.items() if key not in stored or _differs(stored[key], row)]
            insert_rows(self._db, BillLineRow, changed, existing="replace")
        return len(changed)

    def lines(self, since: date | None = None, until: date | None = None,
              keys: Collection[str] | None = None) -> list[BillLine]:
        """The lines of days in [since, until), oldest first; with `keys`, at least those whose
        hint or id is one of them (and those with neither hint nor id), for a few cells' lines."""
        row = BillLineRow
        query = self._window(row.select(*(getattr(row, name) for name in _LINE_FIELDS)), since, until)
        if keys is not None and len(keys) <= LOOKUP_BATCH:
            query = query.where(row.key_hint.in_(list(keys)) | row.key_id.in_(list(keys)) | row.key_hint.is_null()
                                | (row.key_hint == ""))
        # Tuples in BillLine's field order: a month of a large organisation is millions of lines.
        query = query.order_by(row.day, row.id)
        days: dict[object, date] = {}
        # Streamed, not fetched whole, and each name held once (a month repeats a few thousand keys
        # and models over millions of lines): the lines alone then fit in memory.
        names: dict[object, Any] = {None: None}  # the driver's values, as untyped as they come
        with self._store.reporting("read bill lines from"):
            return [BillLine(names.setdefault(provider, provider), days.get(day) or days.setdefault(day, _as_date(day)),
                             names.setdefault(model, model), names.setdefault(key_id, key_id),
                             names.setdefault(key_hint, key_hint), names.setdefault(account, account), *rest)
                    for provider, day, model, key_id, key_hint, account, *rest in self._db.execute(query)]

    def any_line(self, since: date | None = None, until: date | None = None) -> bool:
        """Whether any line is of a day in [since, until)."""
        with self._store.reporting("read bill lines from"):
            return self._window(BillLineRow.select(SQL("1")), since, until).limit(1).exists(self._db)

    def groups(self, since: date | None = None, until: date | None = None) -> BilledGroups:
        """The lines of days in [since, until) totalled in SQL per day, provider, model, key id
        and hint, as columns (each group named by its billed key): a month's millions of lines,
        none of them an object."""
        row = BillLineRow
        keys = (row.day, row.provider, row.model, row.key_id, row.key_hint)  # index bill_line_cells's order
        query = self._window(row.select(row.day, row.provider, row.model, billed_key(row.key_hint, row.key_id),
                                        fn.COUNT(row.cost_usd), fn.SUM(row.cost_usd)), since, until)
        names: list[list[Any]] = [[], [], [], []]
        counts: list[int] = []
        costs: list[float] = []
        held: dict[object, Any] = {}  # each name once: a month repeats a few thousand over millions of rows
        with self._store.reporting("total bill lines in"):
            cursor = self._db.execute(query.group_by(*keys))
            while chunk := cursor.fetchmany(GROUPS_BATCH):
                *values, chunk_counts, chunk_costs = zip(*chunk, strict=True)
                for column, chunk_values in zip(names, values, strict=True):
                    column.extend(map(held.setdefault, chunk_values, chunk_values))
                counts.extend(chunk_counts)
                costs.extend(chunk_costs)
        raw_days, providers, models, billed_keys = names
        days = {raw: _as_date(raw) for raw in set(raw_days)}
        return BilledGroups(providers, list(map(days.__getitem__, raw_days)), models, billed_keys, counts,
                            [cost or 0.0 for cost in costs])

    @staticmethod
    def _window(query: Any, since: date | None, until: date | None) -> Any:
        return _days(query, BillLineRow.day, since, until)


class BilledGroups(NamedTuple):
    """Bill lines totalled per provider, day, model, key id and hint, as columns: the key the
    bill names (billed_key's), how many of a group's lines have a cost, and SQL's SUM of them
    (exact for one or two: a single rounding, so only larger groups need their lines again)."""

    provider: list[str]
    day: list[date]
    model: list[str | None]
    key: list[str]
    lines: list[int]
    cost: list[float]


UNKNOWN_KEY = "unknown key"


def billed_key(hint: Any, key_id: Any) -> Any:
    """The name a bill line's key goes by: its hint, else its id (an expression on their columns)."""
    return fn.COALESCE(fn.NULLIF(hint, ""), fn.NULLIF(key_id, ""), UNKNOWN_KEY)


def line_key(line: BillLine) -> str:
    """billed_key of a line at hand."""
    return line.key_hint or line.key_id or UNKNOWN_KEY


_LINE_FIELDS = tuple(BillLine.__dataclass_fields__)


def _differs(stored: BillLineRow, row: Mapping[str, object]) -> bool:
    return any(getattr(stored, name) != row[name] for name in BillLine.__dataclass_fields__ if name != "day") or (
        _as_date(stored.day) != row["day"])


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class KeyedCost(NamedTuple):
    """Cost summed per UTC day, provider, model and key: unmanaged calls the agents captured
    (key by fingerprint and hint) or LiteLLM's logged spend (key unknown: None)."""

    day: date
    provider: str | None
    model: str | None
    key_fingerprint: str | None
    key_hint: str | None
    calls: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class KeyedCosts:
    """KeyedCosts as columns: a month's captured calls make hundreds of thousands of groups."""

    day: list[date]
    provider: list[str | None]
    model: list[str | None]
    key_fingerprint: list[str | None]
    key_hint: list[str | None]
    calls: list[int]
    cost_usd: list[float]

    @classmethod
    def of(cls, costs: Iterable[KeyedCost]) -> KeyedCosts:
        columns = list(zip(*costs, strict=True))
        return cls(*(list(column) for column in columns)) if columns else cls([], [], [], [], [], [], [])

    def rows(self) -> list[KeyedCost]:
        return [KeyedCost(*row) for row in zip(*self._columns(), strict=True)]

    def row(self, index: int) -> KeyedCost:
        return KeyedCost(*(column[index] for column in self._columns()))

    def _columns(self) -> tuple[list[Any], ...]:
        return tuple(getattr(self, name) for name in KeyedCost._fields)

    def __len__(self) -> int:
        return len(self.day)


def unmanaged_costs(store: Store, since: date | None, until: date | None) -> KeyedCosts:
    """The unmanaged calls of the UTC days [since, until) per day, provider, model and key, from
    their daily rollup; an OpenRouter call at the cost billed for its generation where that was
    imported, else as estimated."""
    daily = BillCallsDailyRow
    query = _days(daily.select(daily.day, daily.provider, daily.model, daily.key_fingerprint, daily.key_hint,
                               daily.calls, daily.cost_pusd)
                  .where((daily.classification == UNMANAGED) & (daily.calls > 0)), daily.day, since, until)
    with store.reporting("read the unmanaged calls' daily totals from"):
        return _costs(store.database.execute(query).fetchall())


def logged_costs(store: Store, since: date | None, until: date | None) -> KeyedCosts:
    """LiteLLM's spend rows of the UTC days [since, until) per day, upstream provider and model,
    from their daily rollup; an OpenRouter row at the cost billed for its generation where that
    was imported, else as LiteLLM logged it."""
    daily = BillSpendDailyRow
    query = _days(daily.select(daily.day, daily.provider, daily.model, SQL("''"), SQL("''"), daily.rows,
                               daily.spend_pusd).where(daily.rows > 0), daily.day, since, until)
    with store.reporting("read the spend rows' daily totals from"):
        return _costs(store.database.execute(query).fetchall())


def _costs(found: list[tuple[Any, ...]]) -> KeyedCosts:
    """A rollup's rows as columns: '' is None again, picodollars dollars."""
    if not found:
        return KeyedCosts.of([])
    days, providers, models, fingerprints, hints, calls, costs = zip(*found, strict=True)
    as_date = {day: _as_date(day) for day in set(days)}  # a month is 30 days over hundreds of thousands of groups

    def named(names: tuple[str, ...]) -> list[str | None]:
        return [name or None for name in names]

    return KeyedCosts(list(map(as_date.__getitem__, days)), named(providers), named(models), named(fingerprints),
                      named(hints), list(calls), [cost / PICO for cost in costs])


def _days(query: Any, column: Any, since: date | None, until: date | None) -> Any:
    """The query limited to the days [since, until) of a date column (either end open when None)."""
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query
