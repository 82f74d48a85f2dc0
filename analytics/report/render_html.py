"""The report as one self-contained HTML file: inline CSS, inline SVG charts, no script and
no external reference (its Content-Security-Policy forbids fetching anything), so it can
be mailed around and opened anywhere.

Every number shown carries its exact value in `data-value` (Python's repr of the JSON
number), next to the field it reports (`data-metric` for totals, `data-field` in tables).
The stylesheet and the body are also the dashboard's (analytics/dashboard), which shows the
report live.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel

from analytics.report.charts import coverage_bar, daily_columns, horizontal_bars
from analytics.report.document import (
    Bill,
    Coaching,
    Day,
    Estimated,
    Finding,
    Pricing,
    Report,
    Source,
    UnreadConnection,
    Workstation,
)
from analytics.report.values import BASIS_LABELS, TRENDS_SHOWN, count, label, percent, trends_left_out, window
from offgate.money import usd

TEMPLATE = Template((Path(__file__).with_name("template.html")).read_text(encoding="utf-8"))
STYLESHEET = Path(__file__).with_name("style.css")
BARS_SHOWN = 15
FINDINGS_SHOWN = 500

KPIS = (
    ("total_cost_usd", "Total spend", usd),
    ("managed_cost_usd", "Managed", usd),
    ("unmanaged_cost_usd", "Unmanaged", usd),
    ("coverage", "Coverage", percent),
    ("unmanaged_calls", "Unmanaged calls", count),
    ("spend_rows", "LiteLLM spend rows", count),
)
ROW_COLUMNS = (
    ("unmanaged_calls", "unmanaged calls", count),
    ("unmanaged_cost_usd", "unmanaged", usd),
    ("prompt_tokens", "prompt tokens", count),
    ("completion_tokens", "completion tokens", count),
    ("estimated_calls", "estimated", count),
    ("unpriced_calls", "unpriced", count),
    ("managed_calls", "managed calls", count),
    ("managed_unpriced_calls", "managed unpriced", count),
    ("managed_cost_usd", "managed", usd),
    ("coverage", "coverage", percent),
)


def render_html(report: Report) -> str:
    return TEMPLATE.substitute(title=escape(f"offgate: unmanaged LLM usage, {_window(report)}"),
                               style=STYLESHEET.read_text(encoding="utf-8"), body=render_body(report))


def render_body(report: Report) -> str:
    """The report's content: headings, numbers, charts and tables, without the page around it."""
    totals = report.totals
    return "\n".join((
        "<h1>Unmanaged LLM usage</h1>",
        f'<p class="window">{escape(_window(report))} &middot; by {escape(report.by)}</p>',
        '<div class="kpis">' + "".join(_kpi(totals, *kpi) for kpi in KPIS) + "</div>",
        "<h2>Managed and unmanaged spend</h2>",
        '<p class="legend"><span><i class="managed"></i>managed (LiteLLM)</span>'
        '<span><i class="unmanaged"></i>unmanaged (around the gateway)</span></p>',
        coverage_bar(totals.managed_cost_usd, totals.unmanaged_cost_usd),
        "<h2>Daily trend</h2>",
        daily_columns(report.daily),
        _daily_table(report.daily),
        f"<h2>Unmanaged usage by {escape(report.by)}</h2>",
        horizontal_bars([(row.key, row.unmanaged_cost_usd) for row in report.rows[:BARS_SHOWN]]),
        _rows_table(report),
        "<h2>Top unmanaged sources</h2>",
        _sources_table(report.top_sources),
        "<h2>Findings</h2>",
        _findings(report),
        "<h2>What is estimated</h2>",
        _estimated(report.estimated),
        "<h2>What the unmanaged costs stand for</h2>",
        _pricing(report.pricing),
        "<h2>Connections offgate could not read</h2>",
        _unread(report.unread_connections),
        "<h2>The providers' bills</h2>",
        _bill(report.bill),
        '<h2 id="workstation">The workstation</h2>',
        _workstation(report.workstation),
        "<h2>Coaching: does it work?</h2>",
        _coaching(report.coaching),
    ))


def _window(report: Report) -> str:
    return f"{window(report.since, report.until)} (UTC)"


def _kpi(totals: BaseModel, name: str, title: str, shown: Callable[[Any], str]) -> str:
    value = getattr(totals, name)
    return (f'<div class="kpi"><span class="name">{escape(title)}</span>'
            f'<span class="value" data-metric="{name}" data-value="{_exact(value)}">'
            f"{escape(shown(value))}</span></div>")


def _rows_table(report: Report) -> str:
    head = "".join(f'<th class="number">{escape(title)}</th>' for _, title, _ in ROW_COLUMNS)
    lines = [f'<table data-table="rows"><tr><th>{escape(report.by)}</th>{head}</tr>']
    for row in report.rows:
        key = "" if row.key is None else row.key
        cells = "".join(_cell(row, name, shown) for name, _, shown in ROW_COLUMNS)
        lines.append(f'<tr data-key="{escape(key)}"><td>{escape(label(row.key))}</td>{cells}</tr>')
    return "\n".join([*lines, "</table>"])


def _daily_table(days: list[Day]) -> str:
    columns = (("managed_cost_usd", usd), ("unmanaged_cost_usd", usd), ("managed_calls", count),
               ("unmanaged_calls", count), ("unpriced_spend_rows", count))
    lines = ['<table data-table="daily"><tr><th>day (UTC)</th><th class="number">managed</th>'
             '<th class="number">unmanaged</th><th class="number">managed calls</th>'
             '<th class="number">unmanaged calls</th><th class="number">unpriced spend rows</th></tr>']
    for day in days:
        shown_day = day.day.isoformat()
        cells = "".join(_cell(day, name, shown) for name, shown in columns)
        lines.append(f'<tr data-key="{shown_day}"><td>{shown_day}</td>{cells}</tr>')
    return "\n".join([*lines, "</table>"])


def _sources_table(sources: list[Source]) -> str:
    names = ("user", "device", "process", "app", "provider")
    lines = ['<table data-table="sources"><tr>' + "".join(f"<th>{name}</th>" for name in names)
             + '<th class="number">calls</th><th class="number">cost</th></tr>']
    for source in sources:
        cells = "".join(f"<td>{escape(label(getattr(source, name)))}</td>" for name in names)
        lines.append(f"<tr>{cells}{_cell(source, 'calls', count)}{_cell(source, 'cost_usd', usd)}</tr>")
    return "\n".join([*lines, "</table>"])


def _findings(report: Report) -> str:
    counts = ", ".join(f'<span data-metric="findings.{kind}" data-value="{n}">{n} {escape(kind)}</span>'
                       for kind, n in report.findings_by_kind.model_dump().items())
    findings = report.findings
    lines = [f"<p>{counts}" + (f" (the first {FINDINGS_SHOWN} are listed)" if len(findings) > FINDINGS_SHOWN
                                else "") + "</p>",
             '<table data-table="findings"><tr><th>time (UTC)</th><th>kind</th><th>model</th>'
             '<th class="number">ours</th><th class="number">logged</th><th>detail</th></tr>']
    for finding in findings[:FINDINGS_SHOWN]:
        lines.append(_finding_row(finding))
    return "\n".join([*lines, "</table>"])


def _finding_row(finding: Finding) -> str:
    kind = escape(finding.kind)
    return (f'<tr data-kind="{kind}"><td>{finding.ts:%Y-%m-%d %H:%M:%S}</td><td class="kind-{kind}">{kind}</td>'
            f'<td>{escape(label(finding.model))}</td>{_cell(finding, "our_cost_usd", usd)}'
            f'{_cell(finding, "logged_cost_usd", usd)}<td>{escape(finding.detail)}</td></tr>')


def _estimated(estimated: Estimated) -> str:
    items = (
        ("estimated_token_calls", "estimated_token_cost_usd", "unmanaged calls whose tokens offgate estimated"),
        ("web_app_calls", "web_app_cost_usd", "web-app calls, priced as the same use of the API"),
        ("unlogged_gateway_calls", "unlogged_gateway_cost_usd", "gateway calls LiteLLM did not log, at our estimate"),
    )
    lines = ["<ul>"]
    for calls, cost, text in items:
        call_count, cost_usd = getattr(estimated, calls), getattr(estimated, cost)
        lines.append(f'<li><span data-metric="estimated.{calls}" data-value="{call_count}">'
                     f"{count(call_count)}</span> {escape(text)}: "
                     f'<span data-metric="estimated.{cost}" data-value="{_exact(cost_usd)}">'
                     f"{escape(usd(cost_usd))}</span></li>")
    lines.append(f'<li><span data-metric="estimated.unpriced_calls" data-value="{estimated.unpriced_calls}">'
                 f'{count(estimated.unpriced_calls)}</span> unmanaged calls without a price (in no total)</li>')
    lines.append(f'<li><span data-metric="estimated.unpriced_spend_rows" '
                 f'data-value="{estimated.unpriced_spend_rows}">{count(estimated.unpriced_spend_rows)}</span> '
                 "LiteLLM spend rows without a cost (in no total)</li>")
    lines.append("</ul>")
    lines.append('<ul class="notes">' + "".join(f"<li>{escape(note)}</li>" for note in estimated.notes) + "</ul>")
    return "\n".join(lines)


def _unread(unread: list[UnreadConnection]) -> str:
    if not unread:
        return "<p>None: no connection was passed through unread.</p>"
    lines = ['<table data-table="unread"><tr><th>process</th><th>host</th><th class="number">connections</th>'
             "<th>last seen (UTC)</th><th>what it means</th></tr>"]
    for entry in unread:
        lines.append(f"<tr><td>{escape(label(entry.process))}</td><td>{escape(entry.host)}</td>"
                     f"{_cell(entry, 'connections', count)}<td>{entry.last_seen:%Y-%m-%d %H:%M:%S}</td>"
                     f"<td>{escape(entry.message)}</td></tr>")
    return "\n".join([*lines, "</table>"])


BILL_COLUMNS = (("billed_usd", "billed", usd), ("explained_by_gateway_usd", "by the gateway", usd),
                ("explained_by_agents_usd", "by the agents", usd), ("unexplained_usd", "unexplained", usd),
                ("coverage", "coverage", percent))


def _bill(bill: Bill | None) -> str:
    if bill is None:
        return "<p>No bill imported for these days (offgate bill import).</p>"
    head = "".join(f'<th class="number">{escape(title)}</th>' for _, title, _ in BILL_COLUMNS)
    lines = ['<div class="kpis">' + "".join(_kpi(bill, name, title, shown) for name, title, shown in BILL_COLUMNS)
             + "</div>",
             f'<table data-table="bill-keys"><tr><th>provider</th><th>key</th><th>gateway key</th>{head}</tr>']
    for key in bill.keys:
        cells = "".join(_cell(key, name, shown) for name, _, shown in BILL_COLUMNS)
        lines.append(f'<tr data-key="{escape(key.provider)}:{escape(key.key)}"><td>{escape(key.provider)}</td>'
                     f'<td>{escape(key.key)}</td><td>{"yes" if key.gateway_key else ""}</td>{cells}</tr>')
    lines.append('</table>\n<table data-table="bill-findings"><tr><th>kind</th><th>provider</th><th>key</th>'
                 "<th>detail</th></tr>")
    for finding in bill.findings:
        kind = escape(finding.kind)
        lines.append(f'<tr data-kind="{kind}"><td class="kind-{kind}">{kind}</td><td>{escape(finding.provider)}</td>'
                     f"<td>{escape(finding.key)}</td><td>{escape(finding.detail)}</td></tr>")
    return "\n".join([*lines, "</table>"])


def _pricing(pricing: Pricing) -> str:
    lines = ['<table data-table="pricing-bases"><tr><th>priced at</th><th class="number">calls</th>'
             '<th class="number">cost</th></tr>']
    for total in pricing.bases:
        lines.append(f'<tr data-key="{total.basis}"><td>{escape(BASIS_LABELS[total.basis])}</td>'
                     f"{_cell(total, 'calls', count)}{_cell(total, 'cost_usd', usd)}</tr>")
    lines.append("</table>")
    lines.append('<ul class="notes" data-list="pricing-notes">'
                 + "".join(f"<li>{escape(note)}</li>" for note in pricing.notes) + "</ul>")
    return "\n".join(lines)


def _workstation(workstation: Workstation) -> str:
    if not (workstation.tool_runs or workstation.shell_keys or workstation.apps):
        return "<p>Nothing found in this window (offgate scan reads the workstation).</p>"
    lines = ["<h3>AI command-line tools run in a shell</h3>",
             '<table data-table="tool-runs"><tr><th>day (UTC)</th><th>tool</th><th class="number">runs</th></tr>']
    for entry in workstation.tool_runs:
        day = entry.day.isoformat()
        lines.append(f'<tr data-key="{day}:{escape(entry.tool)}"><td>{day}</td><td>{escape(entry.tool)}</td>'
                     f"{_cell(entry, 'runs', count)}</tr>")
    lines.append("</table>\n<h3>Raw provider keys typed in a shell</h3>")
    if not workstation.shell_keys:
        lines.append("<p>None.</p>")
    else:
        lines.append('<table data-table="shell-keys"><tr><th>what</th><th>key (fingerprint)</th>'
                     '<th class="number">times</th><th>last seen (UTC)</th></tr>')
        for key in workstation.shell_keys:
            fingerprint = escape(key.key_fingerprint)
            lines.append(f'<tr data-key="{escape(key.device)}:{fingerprint}"><td>{escape(key.message)}</td>'
                         f"<td>{fingerprint}</td>{_cell(key, 'times', count)}"
                         f"<td>{key.last_seen:%Y-%m-%d %H:%M:%S}</td></tr>")
        lines.append("</table>")
    lines.append('<h3>AI apps and agents seen</h3>\n<table data-table="inventory"><tr><th>app</th><th>kind</th>'
                 '<th class="number">devices</th><th>found in</th><th>first seen (UTC)</th><th>last seen (UTC)</th>'
                 "<th>new</th></tr>")
    for app in workstation.apps:
        lines.append(f'<tr data-key="{escape(app.app)}"><td>{escape(app.app)}</td><td>{escape(app.kind)}</td>'
                     f"{_cell(app, 'devices', count)}<td>{escape(', '.join(app.found_in))}</td>"
                     f"<td>{app.first_seen:%Y-%m-%d %H:%M}</td><td>{app.last_seen:%Y-%m-%d %H:%M}</td>"
                     f"<td>{'new' if app.new else ''}</td></tr>")
    return "\n".join([*lines, "</table>"])


COACHING_COLUMNS = (("unmanaged_calls", "unmanaged calls"), ("gateway_calls", "gateway calls"),
                    ("coached_calls", "coached"), ("blocked_calls", "blocked"), ("notices_shown", "notices shown"),
                    ("notices_clicked", "clicked"))


def _coaching(coaching: Coaching | None) -> str:
    if coaching is None or not coaching.trends:
        return "<p>No call went around the gateway and nobody was coached.</p>"
    head = "".join(f'<th class="number">{escape(title)}</th>' for _, title in COACHING_COLUMNS)
    shown = coaching.trends[:TRENDS_SHOWN]
    lines = ['<ul class="notes" data-list="coaching">'
             + "".join(f"<li>{escape(trend.summary)}</li>" for trend in shown) + "</ul>",
             f'<table data-table="coaching"><tr><th>app</th><th>person</th><th>{escape(coaching.period)} (UTC)</th>'
             f"{head}</tr>"]
    for trend in shown:
        for period in trend.periods:
            cells = "".join(_cell(period, name, count) for name, _ in COACHING_COLUMNS)
            lines.append(f'<tr data-app="{escape(trend.app or "")}" data-user="{escape(trend.user or "")}" '
                         f'data-key="{period.start.isoformat()}"><td>{escape(label(trend.app))}</td>'
                         f"<td>{escape(label(trend.user))}</td><td>{period.start.isoformat()}</td>{cells}</tr>")
    lines.append("</table>")
    if more := trends_left_out(coaching):
        lines.append(f"<p>{escape(more.capitalize())}.</p>")
    return "\n".join(lines)


def _cell(record: BaseModel, name: str, shown: Callable[[Any], str]) -> str:
    value = getattr(record, name)
    return (f'<td class="number" data-field="{name}" data-value="{_exact(value)}">'
            f"{escape(shown(value))}</td>")


def _exact(value: Any) -> str:
    """The JSON value as text that reads back to the same number ("" for null)."""
    return "" if value is None else escape(repr(value))
