"""The report's rows for the chosen dimension as CSV, one line per value, for spreadsheets."""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = ("unmanaged_calls", "unmanaged_cost_usd", "prompt_tokens", "completion_tokens", "estimated_calls",
           "unpriced_calls", "managed_calls", "managed_unpriced_calls", "managed_cost_usd", "coverage")


def render_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([report["by"], *COLUMNS])
    for row in report["rows"]:
        writer.writerow(["" if row["key"] is None else row["key"],
                         *("" if row[name] is None else repr(row[name]) for name in COLUMNS)])
    return buffer.getvalue()
