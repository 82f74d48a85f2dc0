"""Three-way reconciliation of a bill: billed = explained by the gateway + by the agents +
unexplained on every row, and the three findings exact."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from analytics.bill.gateway_keys import GatewayKey
from analytics.bill.reconcile import MISPRICED, NOT_SEEN, OFF_GATEWAY, reconcile_bill, reconcile_days
from offgate.fingerprint import key_hint
from offgate.pricing import rates_for
from offgate.store import Store
from offgate.store.bill import BillLine, BillLog, KeyedCost

DAY = date(2026, 11, 2)
GATEWAY_KEY = "sk-proj-GATEWAYgatewaygatewaygateway0001"
ALICE_KEY = "sk-proj-ALICEalicealicealicealice0002"
NOBODY_KEY = "sk-proj-NOBODYnobodynobodynobody0003"


def hint(key: str) -> str:
    shown = key_hint(key)
    assert shown is not None
    return shown


def line(key: str, cost: float, model: str = "gpt-4o-mini-2024-07-18", cache_read_tokens: int = 0) -> BillLine:
    return BillLine(provider="openai", day=DAY, model=model, key_id=f"key_{key[-4:]}", key_hint=key_hint(key),
                    account="proj_1", cost_usd=cost, cache_read_tokens=cache_read_tokens)


def test_the_bill_splits_into_gateway_agents_and_unexplained_with_three_findings():
    rates = rates_for("gpt-4o-mini", "openai")
    assert rates is not None
    cache_reads = 2_000_000
    cache_cost = cache_reads * rates.cache_read
    gateway_line = line(GATEWAY_KEY, 4.0 + cache_cost, cache_read_tokens=cache_reads)
    lines = [gateway_line, line(ALICE_KEY, 1.5), line(NOBODY_KEY, 7.25)]
    gateway = [GatewayKey("openai", frozenset({"gpt-4o-mini"}), key_hint(GATEWAY_KEY), "f-gateway")]
    # LiteLLM logged the gateway's calls but priced its cache reads at $0.
    # As LiteLLM logs it: the deployment's model, provider first.
    logged = [KeyedCost(DAY, "openai", "openai/gpt-4o-mini", None, None, 40, 4.0)]
    captured = [KeyedCost(DAY, "openai", "gpt-4o-mini", "f-alice", key_hint(ALICE_KEY), 3, 1.5),
                KeyedCost(DAY, "openai", "gpt-4o-mini", "f-gateway", key_hint(GATEWAY_KEY), 1, 0.0)]

    result = reconcile_bill(lines, logged, captured, gateway)

    by_key = {row.key: row for row in result.rows}
    gateway_row = by_key[hint(GATEWAY_KEY)]
    assert (gateway_row.gateway_key, gateway_row.explained_by_gateway_usd, gateway_row.explained_by_agents_usd) == (
        True, 4.0, 0.0)
    assert round(gateway_row.unexplained_usd, 9) == round(cache_cost, 9)
    alice = by_key[hint(ALICE_KEY)]
    assert (alice.billed_usd, alice.explained_by_agents_usd, alice.unexplained_usd) == (1.5, 1.5, 0.0)
    nobody = by_key[hint(NOBODY_KEY)]
    assert (nobody.billed_usd, nobody.explained_by_gateway_usd, nobody.explained_by_agents_usd,
            nobody.unexplained_usd) == (7.25, 0.0, 0.0, 7.25)
    assert [(f.kind, f.key, f.token_class) for f in result.findings] == [
        (NOT_SEEN, key_hint(NOBODY_KEY), None),
        (OFF_GATEWAY, key_hint(GATEWAY_KEY), None),
        (MISPRICED, key_hint(GATEWAY_KEY), "cache reads"),
    ]
    assert result.findings[0].billed_usd == 7.25


def test_a_bill_that_everyone_explains_has_no_findings():
    lines = [line(ALICE_KEY, 1.5)]
    captured = [KeyedCost(DAY, "openai", "gpt-4o-mini", "f-alice", key_hint(ALICE_KEY), 3, 1.5)]
    result = reconcile_bill(lines, [], captured, [])
    assert result.findings == [] and [row.unexplained_usd for row in result.rows] == [0.0]


def test_a_cell_of_many_lines_is_their_exact_sum_from_the_store_as_from_the_lines(store_url):
    # Three accounts bill one key, day and model: added up in a row, 1e16 swallows the 1.0.
    lines = [BillLine(provider="openai", day=DAY, model="gpt-4o-mini", key_id="key_0002", key_hint=key_hint(ALICE_KEY),
                      account=account, cost_usd=cost) for account, cost in (("a", 1e16), ("b", 1.0), ("c", -1e16))]
    with Store.open(store_url) as store:
        BillLog(store).add(lines, "file")
        stored = reconcile_days(store, DAY, DAY, [])
    assert stored is not None
    listed = reconcile_bill(lines, [], [], [])
    assert [row.billed_usd for row in stored.rows] == [row.billed_usd for row in listed.rows] == [1.0]
    assert [(f.kind, f.billed_usd) for f in stored.findings] == [(NOT_SEEN, 1.0)]


def test_the_lines_of_a_few_keys_are_found_through_an_index_not_by_reading_every_line(tmp_path):
    # The mispriced gateway cells' whole lines: a month of a large organisation is millions of lines.
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        BillLog(store).add([line(ALICE_KEY, 1.5), line(NOBODY_KEY, 7.25)], "file")
        query = BillLog(store)._lines_query(DAY, DAY + timedelta(days=1), {hint(ALICE_KEY)})
        sql, params = query.sql()
        plan = [row[-1] for row in store.database.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()]
        assert [found.key_hint for found in BillLog(store).lines(DAY, DAY + timedelta(days=1), {hint(ALICE_KEY)})] == [
            hint(ALICE_KEY)]
    # Each key's lines sought by its hint or id, not every line of the days searched for them.
    assert [step for step in plan if step.startswith(("SCAN", "SEARCH"))] == [
        "SEARCH t1 USING INDEX bill_line_key_hint_day (key_hint=? AND day>? AND day<?)",
        "SEARCH t1 USING INDEX bill_line_key_id_day (key_id=? AND day>? AND day<?)",
        "SEARCH t1 USING INDEX bill_line_key_hint_day (key_hint=? AND day>? AND day<?)",
        "SEARCH t1 USING INDEX bill_line_key_hint_day (key_hint=? AND day>? AND day<?)"], plan


def test_a_store_read_day_by_day_reconciles_as_the_lines_do_and_a_day_without_lines_is_no_day(store_url):
    later = DAY + timedelta(days=2)
    lines = [line(ALICE_KEY, 1.5), line(NOBODY_KEY, 7.25), replace(line(NOBODY_KEY, 0.5), day=later)]
    with Store.open(store_url) as store:
        BillLog(store).add(lines, "file")
        stored = reconcile_days(store, DAY - timedelta(days=1), later + timedelta(days=1), [])
    assert stored is not None
    listed = reconcile_bill(lines, [], [], [])
    assert stored.ledger.days == listed.ledger.days == [DAY, later]
    assert stored.rows == listed.rows
    assert [(f.kind, f.key, f.day, f.billed_usd) for f in stored.findings] == [
        (NOT_SEEN, hint(ALICE_KEY), DAY, 1.5), (NOT_SEEN, hint(NOBODY_KEY), DAY, 7.75)]
