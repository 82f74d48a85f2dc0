"""The report for a terminal: a summary, then tables."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from analytics.report.document import Bill, Coaching, Pricing, Report, Workstation
from analytics.report.values import (
    BASIS_LABELS,
    TRENDS_SHOWN,
    calls,
    count,
    label,
    percent,
    trends_left_out,
    window,
)
from offgate.money import usd

WIDTH = 160
FINDINGS_SHOWN = 20


def render_text(report: Report) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=WIDTH, highlight=False, soft_wrap=True, color_system=None)
    totals = report.totals
    console.print(f"Unmanaged LLM usage, {window(report.since, report.until)}", markup=False)
    only = "; ".join(f"{name} {', '.join(values)}" for name, values in (("devices", report.devices),
                                                                           ("users", report.users)) if values)
    if only:
        console.print(f"Only the calls of {only}", markup=False)
    console.print(f"Total spend {usd(totals.total_cost_usd)} = managed {usd(totals.managed_cost_usd)} "
                  f"+ unmanaged {usd(totals.unmanaged_cost_usd)}; coverage {percent(totals.coverage)}",
                  markup=False)
    console.print(f"Unmanaged: {count(totals.unmanaged_calls)} calls, "
                  f"{count(totals.unmanaged_prompt_tokens)} prompt + "
                  f"{count(totals.unmanaged_completion_tokens)} completion tokens", markup=False)
    console.print(f"Managed: {count(totals.spend_rows)} LiteLLM spend rows ({usd(totals.logged_spend_usd)}), "
                  f"{count(totals.gateway_calls)} gateway calls captured, "
                  f"{count(totals.gateway_calls_matched)} matched", markup=False)

    by = report.by
    table = Table(by, "unmanaged calls", "unmanaged $", "prompt", "completion", "estimated", "unpriced",
                  "managed calls", "managed\nunpriced", "managed $", "coverage", title=f"by {by}")
    for row in report.rows:
        table.add_row(label(row.key), count(row.unmanaged_calls), usd(row.unmanaged_cost_usd),
                      count(row.prompt_tokens), count(row.completion_tokens), count(row.estimated_calls),
                      count(row.unpriced_calls), count(row.managed_calls), count(row.managed_unpriced_calls),
                      usd(row.managed_cost_usd), percent(row.coverage))
    console.print(table)

    sources = Table("user", "device", "process", "app", "provider", "calls", "cost $", title="top unmanaged sources")
    for source in report.top_sources:
        sources.add_row(*(label(name) for name in (source.user, source.device, source.process, source.app,
                                                   source.provider)),
                        count(source.calls), usd(source.cost_usd))
    console.print(sources)

    daily = Table("day (UTC)", "managed $", "unmanaged $", "managed calls", "unmanaged calls", "unpriced spend rows",
                  title="daily")
    for day in report.daily:
        daily.add_row(day.day.isoformat(), usd(day.managed_cost_usd), usd(day.unmanaged_cost_usd),
                      count(day.managed_calls), count(day.unmanaged_calls), count(day.unpriced_spend_rows))
    console.print(daily)

    findings = report.findings
    counts = ", ".join(f"{n} {kind}" for kind, n in report.findings_by_kind.model_dump().items())
    first = f" (first {FINDINGS_SHOWN})" if len(findings) > FINDINGS_SHOWN else ""
    shown = Table("time (UTC)", "kind", "model", "detail", title=f"findings: {counts}{first}")
    for finding in findings[:FINDINGS_SHOWN]:
        shown.add_row(f"{finding.ts:%Y-%m-%d %H:%M:%S}", finding.kind, label(finding.model), finding.detail)
    console.print(shown)

    estimated = report.estimated
    console.print("What is estimated:", markup=False)
    for line in (
        f"  {count(estimated.estimated_token_calls)} unmanaged calls with estimated tokens "
        f"({usd(estimated.estimated_token_cost_usd)})",
        f"  {count(estimated.web_app_calls)} web-app calls priced as the API would "
        f"({usd(estimated.web_app_cost_usd)})",
        f"  {count(estimated.unpriced_calls)} unmanaged calls without a price (in no total)",
        f"  {count(estimated.unpriced_spend_rows)} LiteLLM spend rows without a cost (in no total)",
        f"  {count(estimated.unlogged_gateway_calls)} gateway calls LiteLLM did not log, at our estimate "
        f"({usd(estimated.unlogged_gateway_cost_usd)})",
        *(f"  {note}" for note in estimated.notes),
    ):
        console.print(line, markup=False)

    _pricing(console, report.pricing)

    unread = report.unread_connections
    console.print("Connections offgate could not read:" + ("" if unread else " none"), markup=False)
    for entry in unread:
        console.print(f"  {entry.message}", markup=False)
    _bill(console, report.bill)
    _workstation(console, report.workstation)
    _coaching(console, report.coaching)
    return buffer.getvalue()


def render_bill(bill: Bill | None) -> str:
    """The bill part alone, as the report's text shows it."""
    buffer = io.StringIO()
    _bill(Console(file=buffer, width=WIDTH, highlight=False, soft_wrap=True, color_system=None), bill)
    return buffer.getvalue()


def _bill(console: Console, bill: Bill | None) -> None:
    if bill is None:
        console.print("The providers' bills: none imported for these days (offgate bill import)", markup=False)
        return
    console.print(f"The providers' bills: billed {usd(bill.billed_usd)} = by the gateway "
                  f"{usd(bill.explained_by_gateway_usd)} + by the agents {usd(bill.explained_by_agents_usd)} "
                  f"+ unexplained {usd(bill.unexplained_usd)}; coverage {percent(bill.coverage)}", markup=False)
    keys = Table("provider", "key", "gateway key", "billed $", "by the gateway $", "by the agents $",
                 "unexplained $", "coverage", title="the bills by key")
    for key in bill.keys:
        keys.add_row(key.provider, key.key, "yes" if key.gateway_key else "", usd(key.billed_usd),
                     usd(key.explained_by_gateway_usd), usd(key.explained_by_agents_usd), usd(key.unexplained_usd),
                     percent(key.coverage))
    console.print(keys)
    findings = Table("kind", "provider", "key", "detail", title=f"what the bills show: {len(bill.findings)} findings")
    for finding in bill.findings:
        findings.add_row(finding.kind, finding.provider, finding.key, finding.detail)
    console.print(findings)


def _pricing(console: Console, pricing: Pricing) -> None:
    bases = "; ".join(f"{BASIS_LABELS[total.basis]} {usd(total.cost_usd)} ({calls(total.calls)})"
                      if total.cost_usd is not None else f"{BASIS_LABELS[total.basis]}: {calls(total.calls)}"
                      for total in pricing.bases)
    console.print(f"What the unmanaged costs stand for: {bases}", markup=False)
    for note in pricing.notes:
        console.print(f"  {note}", markup=False)


def _workstation(console: Console, workstation: Workstation) -> None:
    if not (workstation.tool_runs or workstation.shell_keys or workstation.apps):
        console.print("The workstation scans (offgate scan): nothing found in this window", markup=False)
        return
    runs = Table("day (UTC)", "tool", "runs", title="AI command-line tools run in a shell")
    for entry in workstation.tool_runs:
        runs.add_row(entry.day.isoformat(), entry.tool, count(entry.runs))
    console.print(runs)
    console.print("Raw provider keys typed in a shell:" + ("" if workstation.shell_keys else " none"), markup=False)
    for key in workstation.shell_keys:
        times = f"{count(key.times)} time" + ("" if key.times == 1 else "s")
        console.print(f"  {key.message} (key {key.key_fingerprint}, typed {times}, last "
                      f"{key.last_seen:%Y-%m-%d %H:%M:%S})", markup=False)
    apps = Table("app", "kind", "devices", "found in", "first seen (UTC)", "last seen (UTC)", "new",
                 title="AI apps and agents seen")
    for app in workstation.apps:
        apps.add_row(app.app, app.kind, count(app.devices), ", ".join(app.found_in), f"{app.first_seen:%Y-%m-%d %H:%M}",
                     f"{app.last_seen:%Y-%m-%d %H:%M}", "new" if app.new else "")
    console.print(apps)


def _coaching(console: Console, coaching: Coaching | None) -> None:
    if coaching is None or not coaching.trends:
        console.print("Coaching: no call went around the gateway and nobody was coached", markup=False)
        return
    console.print(f"Coaching, per {coaching.period}: does it work?", markup=False)
    table = Table("app", "person", f"{coaching.period} (UTC)", "unmanaged calls", "gateway calls", "coached",
                  "blocked", "notices shown", "clicked", title="unmanaged against gateway calls")
    shown = coaching.trends[:TRENDS_SHOWN]
    for trend in shown:
        for period in trend.periods:
            table.add_row(label(trend.app), label(trend.user), period.start.isoformat(),
                          count(period.unmanaged_calls), count(period.gateway_calls), count(period.coached_calls),
                          count(period.blocked_calls), count(period.notices_shown), count(period.notices_clicked))
    console.print(table)
    for trend in shown:
        console.print(f"  {trend.summary}", markup=False)
    if more := trends_left_out(coaching):
        console.print(f"  {more}", markup=False)
