"""OpenRouter's per-generation costs in offgate's store (table GenerationCostRow): what one
call was billed, fetched once by its generation id. The calls offgate captured and the spend
rows LiteLLM logged carry that id (`gen-...`) as their response id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from peewee import JOIN, Expression, Field, fn

from offgate.store.core import Store
from offgate.store.schema import GenerationCostRow, SpendLogRow, UsageEventRow
from offgate.store.sql import between, insert_rows

OPENROUTER = "openrouter"
GENERATION_ID_PREFIX = "gen-"


@dataclass(frozen=True, slots=True)
class GenerationCost:
    id: str
    model: str | None
    created_at: datetime | None
    cost_usd: float
    native_tokens_prompt: int = 0
    native_tokens_completion: int = 0
    native_tokens_cached: int = 0
    native_tokens_reasoning: int = 0


class GenerationLog:
    """The generation costs of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def add(self, costs: Sequence[GenerationCost]) -> int:
        """Store costs not stored yet (a generation's cost is final); returns how many were new."""
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._store.reporting("write generation costs to"), self._db.atomic():
            return insert_rows(self._db, GenerationCostRow, [{**asdict(cost), "fetched_at": now} for cost in costs],
                               existing="keep")

    def wanted(self, since: datetime | None, until: datetime | None) -> list[str]:
        """The generation ids of [since, until)'s OpenRouter calls, captured or logged by LiteLLM,
        whose cost is not stored yet, oldest first."""
        event, spend, cost = UsageEventRow, SpendLogRow, GenerationCostRow
        captured = between(event.select(event.response_id, event.ts)
                           .join(cost, JOIN.LEFT_OUTER, on=(cost.id == event.response_id))
                           .where((event.provider == OPENROUTER) & _is_generation(event.response_id)
                                  & cost.id.is_null()), event.ts, since, until)
        logged = between(spend.select(spend.request_id, spend.start_time)
                         .join(cost, JOIN.LEFT_OUTER, on=(cost.id == spend.request_id))
                         .where((spend.custom_llm_provider == OPENROUTER)
                                & _is_generation(spend.request_id) & cost.id.is_null()),
                         spend.start_time, since, until)
        with self._store.reporting("read generation ids from"):
            found = [*self._db.execute(captured), *self._db.execute(logged)]
        return list(dict.fromkeys(generation for generation, _ in sorted(found, key=lambda row: str(row[1]))))


def _is_generation(column: Field) -> Expression:
    return fn.SUBSTR(column, 1, len(GENERATION_ID_PREFIX)) == GENERATION_ID_PREFIX
