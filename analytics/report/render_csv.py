"""The report's rows for the chosen dimension as CSV, one line per value, for spreadsheets.
If a bill was imported, its keys follow after an empty line, then, if some connections could
not be read, their table; then the unmanaged calls and costs per pricing basis, what the
workstation scans found (tools run per day, keys typed in a shell, apps seen) and, if any tool
went around the gateway or anyone was coached, the coaching part (one line per tool, person and
period), each table after an empty line, its first column named for its table."""

from __future__ import annotations

import csv
import io
from typing import Any

from analytics.report.document import CoachingCounts, Report

COLUMNS = ("unmanaged_calls", "unmanaged_cost_usd", "prompt_tokens", "completion_tokens", "estimated_calls",
           "unpriced_calls", "managed_calls", "managed_unpriced_calls", "managed_cost_usd", "coverage")
BILL_COLUMNS = ("key", "gateway_key", "billed_usd", "explained_by_gateway_usd", "explained_by_agents_usd",
                "unexplained_usd", "coverage")
PRICING_COLUMNS = ("pricing_basis", "calls", "cost_usd")
TOOL_RUN_COLUMNS = ("tool_run_day", "tool", "runs")
SHELL_KEY_COLUMNS = ("shell_key_device", "user", "provider", "key_fingerprint", "times", "first_seen", "last_seen",
                     "message")
APP_COLUMNS = ("app_seen", "kind", "devices", "found_in", "first_seen", "last_seen", "new")
COACHING_COLUMNS = ("user", "period_start", *CoachingCounts.model_fields)
UNREAD_COLUMNS = ("unread_process", "host", "connections", "handshakes_failed", "passed_through", "first_seen",
                  "last_seen", "message")


def render_csv(report: Report) -> str:
    """The JSON's values, as the JSON writes them (times in ISO 8601, numbers exact)."""
    document = report.model_dump(mode="json")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([document["by"], *COLUMNS])
    for row in document["rows"]:
        writer.writerow(["" if row["key"] is None else row["key"],
                         *("" if row[name] is None else repr(row[name]) for name in COLUMNS)])
    if document["bill"]:
        writer.writerow([])
        writer.writerow(["bill_provider", *BILL_COLUMNS])
        for key in document["bill"]["keys"]:
            writer.writerow([key["provider"], *("" if key[name] is None else str(key[name]) for name in BILL_COLUMNS)])
    _table(writer, UNREAD_COLUMNS, [{"unread_process": entry["process"], **entry}
                                    for entry in document["unread_connections"]])
    _table(writer, PRICING_COLUMNS, [{"pricing_basis": total["basis"], **total}
                                     for total in document["pricing"]["bases"]])
    workstation = document["workstation"]
    _table(writer, TOOL_RUN_COLUMNS, [{"tool_run_day": entry["day"], **entry} for entry in workstation["tool_runs"]])
    _table(writer, SHELL_KEY_COLUMNS, [{"shell_key_device": key["device"], **key} for key in workstation["shell_keys"]])
    _table(writer, APP_COLUMNS, [{**app, "app_seen": app["app"], "found_in": " ".join(app["found_in"]),
                                  "new": "yes" if app["new"] else ""} for app in workstation["apps"]])
    coaching = document["coaching"]
    if coaching:
        first = f"coaching_{coaching['period']}_app"
        _table(writer, (first, *COACHING_COLUMNS), [
            {first: trend["app"], "user": trend["user"], "period_start": period["start"], **period}
            for trend in coaching["trends"] for period in trend["periods"]])
    return buffer.getvalue()


def _table(writer: Any, columns: tuple[str, ...], entries: list[dict[str, Any]]) -> None:
    """A table after an empty line, if it has entries; an unknown value is empty."""
    if not entries:
        return
    writer.writerow([])
    writer.writerow(columns)
    for entry in entries:
        writer.writerow(["" if entry[name] is None else entry[name] for name in columns])
