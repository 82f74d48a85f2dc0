"""The bill's daily rollups (offgate.store.bill_rollups) equal their records' totals through
every kind of write, on SQLite and a real PostgreSQL: captured calls, their reconciliation,
OpenRouter generation costs and LiteLLM's spend rows inserted, upserted, updated and deleted."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any, cast

from analytics.reconcile import reconcile
from offgate.config import ReconcileSettings
from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.bill import logged_costs, unmanaged_costs
from offgate.store.bill_rollups import PICO, add_bill_rollups
from offgate.store.generations import GenerationCost, GenerationLog
from offgate.store.schema import GenerationCostRow, ReconciledCallRow, SpendLogRow, UsageEventRow
from offgate.store.spend import SpendLog
from offgate.store.sql import insert_rows
from tests.support.reconcile_data import NOW, T0, direct_call, spend_row, world

T = T0.replace(tzinfo=None)
DAY = T.date()


def more_calls() -> list[UsageEvent]:
    """Direct calls over several days, keys and models, some unpriced, some OpenRouter generations."""
    return [direct_call(f"spread-{n}", -2 * 86400 + n * 5 * 3600, key_fingerprint=f"fp-{n % 3}",
                        key_hint=f"sk-{n % 3}...{n % 3}", model=("gpt-4o-mini", "gpt-4.1", None)[n % 3],
                        cost_usd=None if n % 5 == 0 else 0.0013 * n + 1e-9,
                        **({"provider": "openrouter", "response_id": f"gen-{n}"} if n % 4 == 0 else {}))
            for n in range(24)]


Totals = dict[tuple[Any, ...], tuple[int, int]]  # a rollup row's key: its count and picodollars


def records_totals(store: Store) -> tuple[Totals, Totals]:
    """The rollups' rows as the records give them, added up in Python (whole picodollars per record)."""
    db = store.database
    classes = dict(db.execute(ReconciledCallRow.select(ReconciledCallRow.event_id, ReconciledCallRow.classification))
                   .fetchall())
    generations = dict(db.execute(GenerationCostRow.select(GenerationCostRow.id, GenerationCostRow.cost_usd))
                       .fetchall())
    event = UsageEventRow
    calls: Counter[tuple[Any, ...]] = Counter()
    costs: Counter[tuple[Any, ...]] = Counter()
    for id, ts, provider, model, fingerprint, hint, route, cost, response_id in db.execute(event.select(
            event.id, event.ts, event.provider, event.model, event.key_fingerprint, event.key_hint, event.route,
            event.cost_usd, event.response_id)).fetchall():
        class_ = classes.get(id) or ("gateway" if route == "gateway" else "unmanaged")
        key = (str(ts)[:10], provider or "", model or "", fingerprint or "", hint or "", class_)
        calls[key] += 1
        costs[key] += round((generations.get(response_id, cost) or 0) * PICO)
    rows: Counter[tuple[Any, ...]] = Counter()
    spend: Counter[tuple[Any, ...]] = Counter()
    row = SpendLogRow
    for request_id, start, provider, model, cost in db.execute(row.select(
            row.request_id, row.start_time, row.custom_llm_provider, row.model, row.spend)).fetchall():
        key = (str(start)[:10], provider or "", model or "")
        rows[key] += 1
        spend[key] += round((generations.get(request_id, cost) or 0) * PICO)
    return ({key: (calls[key], costs[key]) for key in calls}, {key: (rows[key], spend[key]) for key in rows})


def rollups(store: Store) -> tuple[Totals, Totals]:
    read = store.database.execute_sql
    calls = read("SELECT day, provider, model, key_fingerprint, key_hint, classification, calls, cost_pusd "
                 "FROM bill_calls_daily WHERE calls <> 0").fetchall()
    spend = read("SELECT day, provider, model, rows, spend_pusd FROM bill_spend_daily WHERE rows <> 0").fetchall()
    return ({(str(day)[:10], *key): (int(count), int(cost)) for day, *key, count, cost in calls},
            {(str(day)[:10], *key): (int(count), int(cost)) for day, *key, count, cost in spend})


def assert_rollups_agree(store: Store) -> None:
    expected = records_totals(store)
    assert expected[0] and expected[1]  # something to agree on
    assert rollups(store) == expected


def test_the_bill_rollups_equal_the_records_through_every_kind_of_write(store_url: str) -> None:
    with Store.open(store_url) as store:
        events, rows = world()
        store.add([*events, *more_calls()])
        SpendLog(store).add([*rows, spend_row("gen-spend", 30, spend=0.004, custom_llm_provider="openrouter")], "file")
        assert_rollups_agree(store)

        reconcile(store, ReconcileSettings(), since=None, now=NOW)  # classes change: reconciled_call inserted
        assert_rollups_agree(store)
        reconcile(store, ReconcileSettings(), since=None, now=NOW)  # and deleted and inserted again
        assert_rollups_agree(store)

        db, event = store.database, UsageEventRow
        GenerationLog(store).add([GenerationCost("gen-4", "openai/gpt-4.1", None, 0.25),
                                  GenerationCost("gen-spend", "openai/gpt-4.1", None, 0.5)])
        assert_rollups_agree(store)
        GenerationCostRow.update(cost_usd=0.125).where(GenerationCostRow.id == "gen-4").execute(db)
        GenerationCostRow.update(id="gen-8").where(GenerationCostRow.id == "gen-spend").execute(db)  # moves
        assert_rollups_agree(store)
        GenerationCostRow.delete().where(GenerationCostRow.id == "gen-8").execute(db)
        assert_rollups_agree(store)

        # A call grows, one moves to another day and key, one is upserted, two are deleted.
        event.update(cost_usd=0.5, model="gpt-4.1").where(event.id == "u-script").execute(db)
        event.update(ts=T + timedelta(days=3), key_hint="sk-moved").where(event.id == "spread-3").execute(db)
        grown = cast(dict[str, Any], event.select().where(event.id == "spread-7").dicts().get(db))
        insert_rows(db, event, [{**grown, "cost_usd": 0.02}], existing="replace")
        event.delete().where(event.id.in_(["spread-4", "u-unpriced"])).execute(db)
        assert_rollups_agree(store)

        # Reconciliation undone for one call, another's class changed, a third's moved to the first.
        call = ReconciledCallRow
        call.delete().where(call.event_id == "u-script").execute(db)
        reconciled = list(db.execute(call.select(call.event_id)).fetchall())
        call.update(classification="gateway-upstream").where(call.event_id == reconciled[0][0]).execute(db)
        call.update(event_id="u-script").where(call.event_id == reconciled[1][0]).execute(db)
        assert_rollups_agree(store)

        SpendLogRow.update(spend=0.75, start_time=T + timedelta(days=1)).where(
            SpendLogRow.request_id == rows[0].request_id).execute(db)
        SpendLogRow.delete().where(SpendLogRow.request_id == rows[1].request_id).execute(db)
        assert_rollups_agree(store)


def test_a_call_taken_away_leaves_the_exact_cost_of_the_rest(store_url: str) -> None:
    """Float sums do not take a cost away exactly (0.1 + 0.2 - 0.1 is 0.20000000000000004)."""
    calls = [direct_call(name, seconds, cost_usd=cost, key_hint="sk-...abcd")
             for name, seconds, cost in (("a", 0, 0.1), ("b", 60, 0.2), ("c", 120, 0.3))]
    with Store.open(store_url) as store:
        store.add(calls)
        UsageEventRow.delete().where(UsageEventRow.id == "a").execute(store.database)
        captured = unmanaged_costs(store, DAY, DAY + timedelta(days=1)).rows()
        assert [(cost.day, cost.provider, cost.model, cost.key_hint, cost.calls, cost.cost_usd)
                for cost in captured] == [(DAY, "openai", "gpt-4o-mini-2024-07-18", "sk-...abcd", 2, 0.5)]
        assert not unmanaged_costs(store, DAY + timedelta(days=1), None).rows()


def test_the_migration_adds_up_the_records_stored_before_it(tmp_path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        events, rows = world()
        store.add([*events, *more_calls()])
        SpendLog(store).add(rows, "file")
        reconcile(store, ReconcileSettings(), since=None, now=NOW)
        expected = rollups(store)
        db = store.database
        for name, in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'bill_%'"):
            db.execute_sql(f"DROP TRIGGER {name}")
        db.execute_sql("DROP TABLE bill_calls_daily")
        db.execute_sql("DROP TABLE bill_spend_daily")
        add_bill_rollups(db)
        assert rollups(store) == expected == records_totals(store)
        logged = logged_costs(store, date(2026, 1, 1), None).rows()
        assert sum(cost.calls for cost in logged) == len(rows)
        assert round(sum(cost.cost_usd for cost in logged), 9) == round(sum(row.spend or 0 for row in rows), 9)


def test_a_rerun_insert_of_a_stored_call_counts_it_once(tmp_path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add(more_calls())
        store.add(more_calls())  # skipped: stored already (ON CONFLICT DO NOTHING fires no trigger)
        assert sum(cost.calls for cost in unmanaged_costs(store, None, None).rows()) == len(more_calls())
