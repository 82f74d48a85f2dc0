"""People, not logins: the mapping from workstation logins to LiteLLM users and teams (CSV or
LiteLLM's user and team lists), `offgate report --by user|team` with a person's managed and
unmanaged spend on one row, and the report's --device and --user filters, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.reconcile import reconcile
from analytics.report.model import build_report
from offgate.cli import app
from offgate.config import ReconcileSettings
from offgate.store import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.people import People, Person
from offgate.store.spend import SpendLog
from offgate.store.unread import UnreadConnectionStore, UnreadCount, UnreadSource
from tests.support.litellm_spend_api import FakeSpendApi
from tests.support.reconcile_data import NOW, T0, spend_row, world

runner = CliRunner(env={"COLUMNS": "200"})
KEY = "sk-admin"
# alice's gateway calls: four paired with spend rows (0.00021 x 3 and 0.00042), two LiteLLM has
# not logged (our estimate, 0.00021 each) and one that failed (no cost): managed 0.00147.
ALICE_CAPTURED = 0.00021 * 5 + 0.00042
ALICE_ELSEWHERE = 0.005  # a spend row of alice's key that no agent saw (her phone, a server)
BOB_UNMANAGED = 0.0006 + 0.0015  # u-script and u-estimated
PEOPLE = [
    Person("alice", litellm_user_id="alice@corp.example", team="platform"),
    Person("bob", device="bob-desktop", litellm_user_id="bob@corp.example", team="platform"),
    Person("bob", litellm_user_id="bob-elsewhere", team="nobody"),  # the mapping on his own device wins
    Person("carol", team="data"),  # no LiteLLM user: she is her login
]


def reconciled_world(url: str, people: list[Person] | None = None) -> None:
    events, rows = world()
    rows.append(spend_row("chatcmpl-elsewhere", 3000, spend=ALICE_ELSEWHERE, user="alice@corp.example"))
    with Store.open(url) as store:
        store.add(events)
        SpendLog(store).add(rows, "file")
        reconcile(store, ReconcileSettings(), since=None, now=NOW)
        if people is not None:
            People(store).replace(people, "test")


def rows_of(url: str, by: str, only: CallFilter = ALL_CALLS) -> dict[str | None, tuple[int, float, int, float]]:
    with Store.open(url) as store:
        report = build_report(store, T0, NOW, by, only)
    return {row.key: (row.managed_calls, round(row.managed_cost_usd, 9), row.unmanaged_calls,
                      round(row.unmanaged_cost_usd, 9)) for row in report.rows}


def test_a_team_has_its_peoples_managed_and_unmanaged_spend_on_one_row(store_url):
    reconciled_world(store_url, PEOPLE)
    assert rows_of(store_url, "team") == {
        "platform": (7 + 1, round(ALICE_CAPTURED + ALICE_ELSEWHERE, 9), 2, round(BOB_UNMANAGED, 9)),
        "data": (0, 0.0, 1, 0.0),  # carol's call has no price
    }


def test_a_person_is_their_litellm_user_with_managed_and_unmanaged_spend_on_one_row(store_url):
    reconciled_world(store_url, PEOPLE)
    assert rows_of(store_url, "user") == {
        "alice@corp.example": (8, round(ALICE_CAPTURED + ALICE_ELSEWHERE, 9), 0, 0.0),
        "bob@corp.example": (0, 0.0, 2, round(BOB_UNMANAGED, 9)),
        "carol": (0, 0.0, 1, 0.0),
    }


def test_without_people_a_user_is_a_login_and_uncaptured_spend_has_no_row(store_url):
    reconciled_world(store_url)
    assert rows_of(store_url, "user") == {
        "alice": (7, round(ALICE_CAPTURED, 9), 0, 0.0),
        "bob": (0, 0.0, 2, round(BOB_UNMANAGED, 9)),
        "carol": (0, 0.0, 1, 0.0),
    }


def test_device_and_user_filters_count_only_those_calls_and_what_is_theirs(store_url):
    reconciled_world(store_url, PEOPLE)
    with Store.open(store_url) as store:
        seen = T0 + timedelta(hours=3)
        cursor = UnreadSource("api2.cursor.sh", "cursor", "/opt/cursor/cursor", "alice", "alice-laptop")
        UnreadConnectionStore(store).add([UnreadCount(cursor, seen.date(), seen, seen, 1, 2)])
        everyone = build_report(store, T0, NOW, "provider")
        bobs = build_report(store, T0, NOW, "provider", CallFilter(devices=("bob-desktop",)))
        alices = build_report(store, T0, NOW, "provider", CallFilter(users=("alice",)))
        nobodys = build_report(store, T0, NOW, "provider", CallFilter(users=("alice",), devices=("bob-desktop",)))
    assert (everyone.totals.captured_calls, len(everyone.findings), len(everyone.unread_connections)) == (12, 4, 1)
    assert (bobs.totals.unmanaged_calls, bobs.totals.unmanaged_cost_usd, bobs.totals.spend_rows,
            bobs.totals.managed_cost_usd, bobs.findings, bobs.unread_connections) == (
        2, pytest.approx(BOB_UNMANAGED, rel=1e-12), 0, 0.0, [], [])
    # alice's four paired spend rows (not the one no agent saw), and her two unlogged calls' estimate
    assert (alices.totals.unmanaged_calls, alices.totals.spend_rows, alices.totals.logged_spend_usd,
            alices.totals.managed_cost_usd) == (
        0, 4, pytest.approx(0.00021 * 3 + 0.00042, rel=1e-12), pytest.approx(ALICE_CAPTURED, rel=1e-12))
    assert sorted((finding.kind, finding.event_id) for finding in alices.findings) == [
        ("cost_mismatch", "g-mismatch"), ("unlogged_gateway_call", "g-unlogged")]
    assert [entry.connections for entry in alices.unread_connections] == [3]
    assert (nobodys.totals.captured_calls, nobodys.totals.spend_rows, nobodys.rows, nobodys.findings) == (0, 0, [], [])


def offgate(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def test_people_from_a_csv_then_the_report_by_team_filtered(tmp_path):
    reconciled_world(f"sqlite:///{tmp_path / 'offgate.db'}")
    people = tmp_path / "people.csv"
    people.write_text("login,device,litellm_user_id,team\nalice,,alice@corp.example,platform\n"
                      "bob,bob-desktop,bob@corp.example,platform\ncarol,,,data\n")
    imported = offgate(tmp_path, "people", "import", "--csv", str(people))
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == f"imported 3 people in 2 teams from {people} (the previous mapping is replaced)"
    result = offgate(tmp_path, "report", "--since", "2026-01-05T00:00:00", "--format", "json", "--by", "team",
                     "--device", "bob-desktop,carol-mac", "--user", "bob", "--user", "carol")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["devices"], document["users"]) == (["bob-desktop", "carol-mac"], ["bob", "carol"])
    assert [(row["key"], row["unmanaged_calls"], row["managed_calls"]) for row in document["rows"]] == [
        ("platform", 2, 0), ("data", 1, 0)]
    text = offgate(tmp_path, "report", "--since", "2026-01-05T00:00:00", "--device", "bob-desktop")
    assert "Only the calls of devices bob-desktop" in text.stdout


@pytest.mark.parametrize(("content", "error"), [
    ("login,team\nalice,platform\n", "the columns must be login, device, litellm_user_id, team (device optional); "
                                     "missing: litellm_user_id"),
    ("login,litellm_user_id,team,email\n", "unknown: email"),
    ("login,litellm_user_id,team\n,alice@corp.example,platform\n", "line 2: no login"),
    ("login,litellm_user_id,team\nalice,a,x\nalice,b,y\n", "the login 'alice' is mapped twice; nothing was changed"),
])
def test_a_bad_csv_is_refused_saying_why_and_the_mapping_stays(tmp_path, content, error):
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    with Store.open(url) as store:
        People(store).replace(PEOPLE, "before")
    people = tmp_path / "people.csv"
    people.write_text(content)
    result = offgate(tmp_path, "people", "import", "--csv", str(people))
    assert result.exit_code == 2
    assert error in " ".join(result.output.split())
    with Store.open(url) as store:
        assert People(store).all() == sorted(PEOPLE, key=lambda p: (p.login, p.device or ""))


def test_people_from_litellms_user_and_team_lists(tmp_path):
    users = [{"user_id": f"u{number}", "user_email": f"user{number}@corp.example", "teams": ["t-data"]}
             for number in range(130)]  # two pages of /user/list
    users.append({"user_id": "svc-batch", "user_email": None, "teams": []})
    teams = [{"team_id": "t-data", "team_alias": "data", "members_with_roles": []}]
    api = FakeSpendApi([], KEY, users=users, teams=teams).start()
    try:
        refused = offgate(tmp_path, "people", "import", "--from-litellm", api.url, "--key", "sk-wrong")
        imported = offgate(tmp_path, "people", "import", "--from-litellm", api.url, "--key", KEY)
    finally:
        api.stop()
    assert refused.exit_code == 2
    assert "refused the key for /team/list (401): it takes an admin key" in refused.output
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == (f"imported 131 people in 1 teams from {api.url} "
                                       "(the previous mapping is replaced)")
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        people = {person.login: person for person in People(store).all()}
    assert people["user7"] == Person("user7", None, "u7", "data")
    assert people["svc-batch"] == Person("svc-batch", None, "svc-batch", None)
    listed = offgate(tmp_path, "people", "list")
    assert listed.stdout.strip().endswith("131 people")


def test_reconcile_tells_of_the_filtered_calls_after_reconciling_them_all(tmp_path):
    reconciled_world(f"sqlite:///{tmp_path / 'offgate.db'}")
    result = offgate(tmp_path, "reconcile", "--user", "alice")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "reconciled 12 calls since the beginning against 8 LiteLLM spend rows",
        "of them, the 7 calls of users alice, paired with 4 spend rows:",
        "  7 gateway, 0 gateway-upstream, 0 unmanaged",
        "  paired by response id 2, by LiteLLM call id 1, by time, model and tokens 1",
        "  findings: 2 unlogged gateway calls, 1 cost mismatches, 0 spend rows no agent saw",
    ]
