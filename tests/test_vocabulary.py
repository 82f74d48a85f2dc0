"""The shared words (offgate.vocabulary) are the ones every part accepts and stores."""

from __future__ import annotations

from typer.testing import CliRunner

from offgate.cli import app
from offgate.config import AlertSettings
from offgate.store.schema import UsageEventRow
from offgate.vocabulary import ALERT_DIMENSIONS, DIMENSION_COLUMNS, DIMENSIONS


def test_every_dimension_reads_a_usage_event_column() -> None:
    assert set(DIMENSION_COLUMNS.values()) <= set(UsageEventRow._meta.fields)


def test_alerts_watch_report_dimensions_and_all_of_them_by_default() -> None:
    assert set(ALERT_DIMENSIONS) <= set(DIMENSIONS)
    assert AlertSettings().dimensions == list(ALERT_DIMENSIONS)


def test_the_report_command_offers_exactly_the_dimensions() -> None:
    refused = CliRunner().invoke(app, ["report", "--by", "planet"])
    assert refused.exit_code == 2
    assert f"'planet' is not one of {', '.join(repr(name) for name in DIMENSIONS)}." in refused.output
