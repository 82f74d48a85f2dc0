"""The report's rows for the chosen dimension as CSV, one line per value, for spreadsheets.
If a bill was imported, its keys follow after an empty line, then, if some connections could
not be read, their table, then, if any tool went around the gateway or anyone was coached, the
coaching part: one line per tool, person and period."""

from __future__ import annotations

import csv
import io

from analytics.report.document import CoachingCounts, Report

COLUMNS = ("unmanaged_calls", "unmanaged_cost_usd", "prompt_tokens", "completion_tokens", "estimated_calls",
           "unpriced_calls", "managed_calls", "managed_unpriced_calls", "managed_cost_usd", "coverage")
BILL_COLUMNS = ("key", "gateway_key", "billed_usd", "explained_by_gateway_usd", "explained_by_agents_usd",
                "unexplained_usd", "coverage")
COACHING_COLUMNS = ("user", "period_start", *CoachingCounts.model_fields)
UNREAD_COLUMNS = ("process", "host", "connections", "handshakes_failed", "passed_through", "first_seen",
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
    if document["unread_connections"]:
        writer.writerow([])
        writer.writerow([f"unread_{UNREAD_COLUMNS[0]}", *UNREAD_COLUMNS[1:]])
        for entry in document["unread_connections"]:
            writer.writerow(["" if entry[name] is None else entry[name] for name in UNREAD_COLUMNS])
    coaching = document["coaching"]
    if coaching and coaching["trends"]:
        writer.writerow([])
        writer.writerow([f"coaching_{coaching['period']}_app", *COACHING_COLUMNS])
        for trend in coaching["trends"]:
            for period in trend["periods"]:
                writer.writerow(["" if trend["app"] is None else trend["app"],
                                 "" if trend["user"] is None else trend["user"], period["start"],
                                 *(period[name] for name in COACHING_COLUMNS[2:])])
    return buffer.getvalue()
