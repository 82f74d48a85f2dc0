"""Which renderer writes which `--format`."""

from __future__ import annotations

import json

from analytics.report.document import Report

FORMATS = ("table", "json", "csv", "html")


def render(report: Report, format: str) -> str:
    if format == "json":
        return json.dumps(report.model_dump(mode="json"), indent=1) + "\n"
    if format == "csv":
        from analytics.report.render_csv import render_csv

        return render_csv(report)
    if format == "html":
        from analytics.report.render_html import render_html

        return render_html(report)
    if format == "table":
        from analytics.report.render_text import render_text

        return render_text(report)
    raise ValueError(f"unknown report format {format!r}: one of {', '.join(FORMATS)}")
