"""The report's rows for the chosen dimension as CSV, one line per value, for spreadsheets.
If some connections could not be read, their table follows after an empty line."""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = ("unmanaged_calls", "unmanaged_cost_usd", "prompt_tokens", "completion_tokens", "estimated_calls",
           "unpriced_calls", "managed_calls", "managed_unpriced_calls", "managed_cost_usd", "coverage")
UNREAD_COLUMNS = ("process", "host", "connections", "handshakes_failed", "passed_through", "first_seen",
                  "last_seen", "message")


def render_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([report["by"], *COLUMNS])
    for row in report["rows"]:
        writer.writerow(["" if row["key"] is None else row["key"],
                         *("" if row[name] is None else repr(row[name]) for name in COLUMNS)])
    if report["unread_connections"]:
        writer.writerow([])
        writer.writerow([f"unread_{UNREAD_COLUMNS[0]}", *UNREAD_COLUMNS[1:]])
        for entry in report["unread_connections"]:
            writer.writerow(["" if entry[name] is None else entry[name] for name in UNREAD_COLUMNS])
    return buffer.getvalue()
