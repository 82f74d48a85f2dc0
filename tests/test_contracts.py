"""The published contracts: docs/schemas/ holds the JSON Schemas made from the models, and
what offgate really prints, serves and posts validates against the committed files. Read
strictly: a JSON number must be written as a float (money is never a bare 0), an integer
as an int, a time as ISO 8601 with its offset, and no field may be missing or extra."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from jsonschema.validators import Draft202012Validator

from analytics.notify import channels_from
from analytics.schemas import SCHEMA_DIR, schema_files
from offgate.cli import app as cli
from offgate.config import NotifySettings
from offgate.store import Store
from offgate.store.alerts import AlertStore
from offgate.store.unread import UnreadConnectionStore, UnreadCount, UnreadSource
from tests.support.dashboard_world import TOKEN, fill, report_json, runner, serving, utc_now
from tests.support.notify_receivers import WebhookReceiver

DIMENSIONS = ("user", "device", "app", "provider", "model", "key", "process", "team")


def strict_validator(schema_file: str) -> Draft202012Validator:
    """A validator for a committed schema that tells 0 from 0.0 and checks the formats offgate writes."""
    types = Draft202012Validator.TYPE_CHECKER.redefine_many({
        "number": lambda _, value: isinstance(value, float),
        "integer": lambda _, value: isinstance(value, int) and not isinstance(value, bool),
    })
    formats = jsonschema.FormatChecker(formats=())  # a format speaks of strings only: other types pass
    formats.checks("date-time", raises=ValueError)(
        lambda text: not isinstance(text, str) or datetime.fromisoformat(text).tzinfo is not None)
    formats.checks("date", raises=ValueError)(lambda text: not isinstance(text, str) or bool(date.fromisoformat(text)))
    strict = jsonschema.validators.extend(Draft202012Validator, type_checker=types)
    schema = json.loads((SCHEMA_DIR / schema_file).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return strict(schema, format_checker=formats)


def invalid(schema_file: str, document: Any) -> list[str]:
    """Why `document` does not validate, one line per error (none: it does)."""
    errors = strict_validator(schema_file).iter_errors(document)
    return [f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}" for error in errors]


def test_the_committed_schemas_are_the_models_schemas() -> None:
    for path, text in schema_files().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: uv run python -m analytics.schemas"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A reconciled world with findings and three alerts, and connections the proxy could not read."""
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    now = utc_now()
    fill(url, now)
    seen = now - timedelta(hours=3)
    with Store.open(url) as store:
        UnreadConnectionStore(store).add([
            UnreadCount(UnreadSource("api2.cursor.sh", "cursor", "/opt/cursor/cursor", "alice", "alice-laptop"),
                        seen.date(), seen, seen, 1, 2),
            UnreadCount(UnreadSource("chatgpt.com", None, None, None, None), seen.date(), seen, seen, 1, 0)])
    return tmp_path


@pytest.mark.parametrize("by", DIMENSIONS)
def test_the_report_the_command_prints_keeps_the_contract(home: Path, by: str) -> None:
    document = report_json(home, "--by", by)
    assert invalid("report.schema.json", document) == []
    assert document["findings"] and document["unread_connections"] and document["daily"]  # every part is there


def test_the_report_the_dashboard_serves_keeps_the_contract(home: Path) -> None:
    with serving(home) as base, httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for by in DIMENSIONS:
            summary = client.get("/api/summary", params={"by": by})
            assert summary.status_code == 200
            assert invalid("report.schema.json", summary.json()) == []
        alerts = client.get("/api/alerts", params={"all": "1"}).json()["alerts"]
    assert len(alerts) == 3
    assert [invalid("alert.schema.json", alert) for alert in alerts] == [[], [], []]


def test_a_report_of_a_window_without_spend_writes_its_money_as_floats(tmp_path: Path) -> None:
    """LiteLLM's logged spend of a window without spend rows was a bare 0 beside every other
    amount's 0.0: a reader typed on the schema ("number", written as a float) stumbled on it."""
    document = report_json(tmp_path, "--since", "1h")
    assert document["totals"]["logged_spend_usd"] == 0.0
    assert invalid("report.schema.json", document) == []


def test_the_strict_reading_finds_what_a_typed_reader_would_stumble_on(home: Path) -> None:
    document = report_json(home)
    document["totals"]["spend_rows"] = 7.0
    document["totals"]["managed_cost_usd"] = 0
    document["rows"][0]["colour"] = "red"
    del document["daily"][0]["managed_calls"]
    document["findings"][0]["ts"] = "2026-01-05T10:03:00"
    document["by"] = "colour"
    assert sorted(invalid("report.schema.json", document)) == [
        "by: 'colour' is not one of ['user', 'device', 'app', 'provider', 'model', 'key', 'process', 'team']",
        "daily/0: 'managed_calls' is a required property",
        "findings/0/ts: '2026-01-05T10:03:00' is not a 'date-time'",
        "rows/0: Additional properties are not allowed ('colour' was unexpected)",
        "totals/managed_cost_usd: 0 is not of type 'number'",
        "totals/spend_rows: 7.0 is not of type 'integer'",
    ]


def test_the_alerts_the_command_lists_keep_the_contract(home: Path) -> None:
    result = runner.invoke(cli, ["--home", str(home), "alerts", "--json", "--all"], catch_exceptions=False)
    listed = json.loads(result.stdout)
    assert len(listed) == 3
    assert [invalid("alert.schema.json", alert) for alert in listed] == [[], [], []]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.stop()


def test_what_the_webhook_posts_keeps_the_alert_contract(home: Path, receiver: WebhookReceiver) -> None:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        alerts = AlertStore(store).alerts()
    [channel] = channels_from(NotifySettings(desktop=False, webhook={"url": receiver.url("hook")}))
    for alert in alerts:
        channel.send(alert)
    posted = receiver.delivered("hook")
    assert posted == [alert.to_json() for alert in alerts]
    assert [invalid("alert.schema.json", body) for body in posted] == [[], [], []]
