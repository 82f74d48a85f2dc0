"""The providers' bills in offgate's store (table BillLineRow): one line per provider, UTC
day, model, key and billed account, as imported by `offgate bill import`.

A line's id is its natural key, so importing a bill again replaces its lines (a provider may
still revise a recent day) and adds none twice.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
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
        query = self._lines_query(since, until, keys)
        days: dict[object, date] = {}
        # Streamed, not fetched whole, and each name held once (a month repeats a few thousand keys
        # and models over millions of lines): the lines alone then fit in memory.
        names: dict[object, Any] = {None: None}  # the driver's values, as untyped as they come
        with self._store.reporting("read bill lines from"):
            return [BillLine(names.setdefault(provider, provider), days.get(day) or days.setdefault(day, _as_date(day)),
                             names.setdefault(model, model), names.setdefault(key_id, key_id),
                             names.setdefault(key_hint, key_hint), names.setdefault(account, account), *rest)
                    for provider, day, model, key_id, key_hint, account, *rest in self._db.execute(query)]

    def _lines_query(self, since: date | None, until: date | None, keys: Collection[str] | None) -> Any:
        row = BillLineRow
        query = self._window(row.select(*(getattr(row, name) for name in _LINE_FIELDS)), since, until)
        if keys is not None and len(keys) <= LOOKUP_BATCH:
            # Each term on an index of its own (bill_line's key_hint and key_id, with day).
            query = query.where(row.key_hint.in_(list(keys)) | row.key_id.in_(list(keys)) | row.key_hint.is_null()
                                | (row.key_hint == ""))
        # Tuples in BillLine's field order: a month of a large organisation is millions of lines.
        return query.order_by(row.day, row.id)

    def any_line(self, since: date | None = None, until: date | None = None) -> bool:
        """Whether any line is of a day in [since, until)."""
        with self._store.reporting("read bill lines from"):
            return self._window(BillLineRow.select(SQL("1")), since, until).limit(1).exists(self._db)

    def groups(self, since: date | None = None, until: date | None = None) -> BilledGroups:
        """The lines of days in [since, until) as columns, each named by its billed key, read day
        by day through the covering index on (day, provider, model, key_id, key_hint, cost_usd):
        a month's millions of lines, none of them an object, each name held once, and each day
        the query's, not every line's."""
        row = BillLineRow
        query = row.select(row.provider, row.model, billed_key(row.key_hint, row.key_id), row.cost_usd)
        with self._store.reporting("read bill lines from"):
            days, (providers, models, keys), (costs,) = _by_day(_day_by_day(self._db, query, row.day, since, until),
                                                               names=3, values=1)
        return BilledGroups(providers, days, models, keys,
                            [cost is not None for cost in costs], [cost or 0.0 for cost in costs])

    @staticmethod
    def _window(query: Any, since: date | None, until: date | None) -> Any:
        return _days(query, BillLineRow.day, since, until)


class BilledGroups(NamedTuple):
    """Bill lines, or lines totalled per group, as columns: the key the bill names (billed_key's),
    how many lines have a cost, and their sum (exact for one or two lines: a single rounding,
    so only cells of more need their lines again)."""

    provider: Coded
    day: Coded
    model: Coded
    key: Coded
    lines: Sequence[int]
    cost: Sequence[float]


@dataclass(frozen=True, slots=True)
class Coded:
    """A column as codes into its distinct values: a month's millions of rows repeat a few
    thousand names, so each is held once, and the codes are int64s numpy reads as they are."""

    names: list[Any]
    codes: array[int]

    @classmethod
    def of(cls, values: Sequence[Any]) -> Coded:
        coder = Coder()
        coder.extend(values)
        return coder.coded()

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: int) -> Any:
        return self.names[self.codes[index]]

    def values(self) -> list[Any]:
        return list(map(self.names.__getitem__, self.codes))


class Coder:
    """Codes a column chunk by chunk, each distinct value the next code."""

    def __init__(self) -> None:
        self._index: dict[Any, int] = {}
        self._codes = array("q")

    def extend(self, values: Sequence[Any]) -> None:
        index = self._index
        for value in dict.fromkeys(values):  # a chunk's distinct values: few
            index.setdefault(value, len(index))
        self._codes.extend(map(index.__getitem__, values))

    def coded(self, name: Callable[[Any], Any] = lambda value: value) -> Coded:
        """The column, each distinct value as `name` makes it."""
        return Coded([name(value) for value in self._index], self._codes)


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

    day: Coded
    provider: Coded
    model: Coded
    key_fingerprint: Coded
    key_hint: Coded
    calls: Sequence[int]
    cost_usd: Sequence[float]

    @classmethod
    def of(cls, costs: Iterable[KeyedCost]) -> KeyedCosts:
        columns = list(zip(*costs, strict=True)) or [()] * len(KeyedCost._fields)
        day, provider, model, fingerprint, hint, calls, cost_usd = columns
        return cls(Coded.of(day), Coded.of(provider), Coded.of(model), Coded.of(fingerprint), Coded.of(hint),
                   list(calls), list(cost_usd))

    def rows(self) -> list[KeyedCost]:
        return [KeyedCost(*row) for row in zip(*self._columns(), strict=True)]

    def row(self, index: int) -> KeyedCost:
        return KeyedCost(*(column[index] for column in self._columns()))

    def _columns(self) -> tuple[Sequence[Any], ...]:
        names = (self.day, self.provider, self.model, self.key_fingerprint, self.key_hint)
        return (*(column.values() for column in names), self.calls, self.cost_usd)

    def __len__(self) -> int:
        return len(self.day)


def unmanaged_costs(store: Store, since: date | None, until: date | None) -> KeyedCosts:
    """The unmanaged calls of the UTC days [since, until) per day, provider, model and key, from
    their daily rollup; an OpenRouter call at the cost billed for its generation where that was
    imported, else as estimated."""
    daily = BillCallsDailyRow
    query = daily.select(daily.provider, daily.model, daily.key_fingerprint, daily.key_hint, daily.calls,
                         daily.cost_pusd).where((daily.classification == UNMANAGED) & (daily.calls > 0))
    with store.reporting("read the unmanaged calls' daily totals from"):
        return _costs(_day_by_day(store.database, query, daily.day, since, until))


def logged_costs(store: Store, since: date | None, until: date | None) -> KeyedCosts:
    """LiteLLM's spend rows of the UTC days [since, until) per day, upstream provider and model,
    from their daily rollup; an OpenRouter row at the cost billed for its generation where that
    was imported, else as LiteLLM logged it."""
    daily = BillSpendDailyRow
    query = daily.select(daily.provider, daily.model, SQL("''"), SQL("''"), daily.rows, daily.spend_pusd).where(
        daily.rows > 0)
    with store.reporting("read the spend rows' daily totals from"):
        return _costs(_day_by_day(store.database, query, daily.day, since, until))


def _costs(days: Iterable[tuple[date, Any]]) -> KeyedCosts:
    """A rollup's rows, day by day, as columns: '' is None again, picodollars dollars."""
    day_codes, names, (calls, costs) = _by_day(days, names=4, values=2)
    providers, models, fingerprints, hints = (Coded([name or None for name in column.names], column.codes)
                                              for column in names)
    return KeyedCosts(day_codes, providers, models, fingerprints, hints, calls, [cost / PICO for cost in costs])


def _by_day(days: Iterable[tuple[date, Any]], names: int, values: int) -> tuple[Coded, list[Coded], list[list[Any]]]:
    """Rows read a day's cursor at a time (_day_by_day) as columns: the days coded (a day without
    rows is none of them), the first `names` columns coded, the `values` columns after them as lists."""
    coders = [Coder() for _ in range(names)]
    kept: list[list[Any]] = [[] for _ in range(values)]
    day_names: list[date] = []
    day_codes = array("q")
    for day, cursor in days:
        while chunk := cursor.fetchmany(GROUPS_BATCH):
            columns = list(zip(*chunk, strict=True))
            for coder, column in zip(coders, columns[:names], strict=True):
                coder.extend(column)
            for values_so_far, column in zip(kept, columns[names:], strict=True):
                values_so_far.extend(column)
            day_codes.extend(array("q", [len(day_names)]) * len(chunk))
        if len(day_codes) and day_codes[-1] == len(day_names):
            day_names.append(day)
    return Coded(day_names, day_codes), [coder.coded() for coder in coders], kept


def _day_by_day(database: Any, query: Any, column: Any, since: date | None, until: date | None
               ) -> Iterator[tuple[date, Any]]:
    """The rows of `query` of each day from the first to the last in [since, until) of its date
    `column` (its table's index leads with it), as a cursor a day: a month is millions of rows,
    and each day is then the query's, not every row's."""
    table = column.model
    # Apart: SQLite seeks a lone MIN or MAX on an index, but scans for both at once.
    first, last = (database.execute(_days(table.select(end(column)), column, since, until)).fetchone()[0]
                   for end in (fn.MIN, fn.MAX))
    if first is None:
        return
    first, last = _as_date(first), _as_date(last)
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        yield day, database.execute(query.where(column == day))


def _days(query: Any, column: Any, since: date | None, until: date | None) -> Any:
    """The query limited to the days [since, until) of a date column (either end open when None)."""
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query
