"""Governance: `policy check`, and `approvals list|approve|deny` for the requests the gateway's
hook records (docs/governance.md)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from offgate.cli.common import CommandContext, SinceOption, app, out, parsed, since_from
from offgate.config import CONFIG_FILE
from offgate.errors import BadInputError
from offgate.money import usd
from offgate.policy import rule_lines
from offgate.timespan import parse_since, parse_span

policy_app = typer.Typer(help="The policy in config.toml ([[policy.rules]]).", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
approvals_app = typer.Typer(help="Approval requests: calls the gateway held under a require_approval rule.",
                            invoke_without_command=True)
app.add_typer(approvals_app, name="approvals")


@policy_app.command("check")
def check(ctx: typer.Context, since: SinceOption = None) -> None:
    """Validate the policy (a bad rule is an error naming its line) and print what each rule
    matches in the data (default: the last 30 days): captured calls and gateway spend rows."""
    from governance.check import rule_matches

    context: CommandContext = ctx.obj
    policy = context.settings.policy  # loading validates: a bad rule stops here, naming its line
    if not policy.rules:
        out.print(f"no policy rules in {context.home / CONFIG_FILE}", markup=False)
        return
    config_file = context.home / CONFIG_FILE
    lines = rule_lines(config_file.read_text(encoding="utf-8")) if config_file.is_file() else []
    start = since_from(since) or parse_since("30d")
    with context.store() as store:
        found = rule_matches(store, policy, start)
    table = Table("line", "rule", "action", "matches", "calls", "cost", "gateway rows", "gateway spend", "people")
    for index, matches in enumerate(found):
        rule = matches.rule
        table.add_row(str(lines[index]) if index < len(lines) else "-", rule.name, rule.action,
                      rule.describe_match(), f"{matches.calls:,}", usd(matches.cost_usd), f"{matches.spend_rows:,}",
                      usd(matches.spend_usd), f"{len(matches.people):,}")
    out.print(table)
    out.print(f"policy ok: {len(found)} rules; matches since {start:%Y-%m-%d %H:%M} UTC", markup=False)


IncludeDecided = Annotated[bool, typer.Option("--all", help="Include approved and denied requests.")]
WithAudit = Annotated[bool, typer.Option("--audit", help="Then the audit: every request and decision, oldest first.")]


@approvals_app.callback()
def approvals(ctx: typer.Context, include_decided: IncludeDecided = False, audit: WithAudit = False) -> None:
    """List the pending approval requests (with --all, every request), most recently asked first."""
    if ctx.invoked_subcommand is None:
        _list_requests(ctx.obj, include_decided, audit)


@approvals_app.command("list")
def list_requests(ctx: typer.Context, include_decided: IncludeDecided = False, audit: WithAudit = False) -> None:
    """List the pending approval requests (with --all, every request), most recently asked first."""
    _list_requests(ctx.obj, include_decided, audit)


def _list_requests(context: CommandContext, include_decided: bool, audit: bool) -> None:
    from offgate.store.approvals import PENDING, ApprovalStore

    with context.store() as store:
        approvals = ApprovalStore(store)
        found = approvals.requests(None if include_decided else PENDING)
        entries = approvals.audit() if audit else []
    table = Table("id", "status", "rule", "user", "team", "model", "asked (UTC)", "times", "why", "decision")
    for request in found:
        decision = "-" if request.decided_by is None else f"{request.decided_by}" + (
            f" until {request.expires_at:%Y-%m-%d %H:%M:%S}" if request.expires_at else "") + (
            f" up to {usd(request.amount_usd)}" if request.amount_usd is not None else "") + (
            f": {request.note}" if request.note else "")
        table.add_row(request.id, request.status, request.rule, request.user or "-", request.team or "-",
                      request.model or "-", f"{request.requested_at:%Y-%m-%d %H:%M}", str(request.times_requested),
                      request.reason, decision)
    out.print(table)
    out.print(f"{'requests' if include_decided else 'pending requests'}: {len(found)}"
              " (`offgate approvals approve ID` lets the calls through)", markup=False)
    if not audit:
        return
    trail = Table("at (UTC)", "request", "who", "what", "detail", title="the audit")
    for entry in entries:
        trail.add_row(f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.request_id, entry.actor, entry.action, entry.detail or "")
    out.print(trail)
    out.print(f"audit rows: {len(entries)}", markup=False)


@approvals_app.command("approve")
def approve(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(metavar="ID", help="The request's id, as the refusal gave it.")],
    for_: Annotated[str, typer.Option("--for", help="How long the approval lasts: 30m, 24h, 7d.")] = "24h",
    amount: Annotated[float | None, typer.Option(
        "--amount", min=0.0, help="USD: the most a call may cost, or how far past the budget spend may go.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the audit.")] = None,
) -> None:
    """Approve a request: the calls it held pass until it expires."""
    from offgate.store.approvals import ApprovalStore

    duration = parsed("--for", lambda: parse_span(for_))
    context: CommandContext = ctx.obj
    by = _approver(context)
    with context.store() as store:
        approval = ApprovalStore(store).approve(request_id, by, duration, amount, reason)
    out.print(f"approved {approval.id} (rule {approval.rule!r}, {approval.user or 'anyone'}) by {by} until "
              f"{approval.expires_at:%Y-%m-%d %H:%M:%S} UTC" + (f", up to {usd(amount)}" if amount is not None else "")
              + "; the gateway lets the calls through from its next refresh", markup=False)


@approvals_app.command("deny")
def deny(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(metavar="ID", help="The request's id.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the requester and the audit.")] = None,
) -> None:
    """Deny a request: its calls stay refused."""
    from offgate.store.approvals import ApprovalStore

    context: CommandContext = ctx.obj
    by = _approver(context)
    with context.store() as store:
        approval = ApprovalStore(store).deny(request_id, by, reason)
    out.print(f"denied {approval.id} (rule {approval.rule!r}, {approval.user or 'anyone'}) by {by}"
              + (f": {reason}" if reason else ""), markup=False)


def _approver(context: CommandContext) -> str:
    """Who runs the command; an error unless the policy lists them among its approvers (or lists none)."""
    me = getpass.getuser()
    refused = context.settings.policy.refusal_to_decide(me)
    if refused:
        raise BadInputError(refused)
    return me


ROUTE_TOOLS = ("claude-code", "codex", "gemini-cli", "openai-sdk", "anthropic-sdk")


@app.command()
def route(
    ctx: typer.Context,
    tool: Annotated[str, typer.Argument(help=f"One of {', '.join(ROUTE_TOOLS)}.")],
    apply_: Annotated[bool, typer.Option("--apply", help="Write the settings (the file is kept first).")] = False,
    undo_: Annotated[bool, typer.Option("--undo", help="Put the file back exactly as it was before --apply.")] = False,
    gateway: Annotated[str | None, typer.Option(help="The gateway's URL (default: the first proxy.gateways).")] = None,
    user: Annotated[str | None, typer.Option(help="Whose spend it is (default: this account's name).")] = None,
) -> None:
    """Print the settings that send TOOL through the company's LiteLLM gateway (with LiteLLM's
    customer id header naming you, where the tool can send headers); --apply writes them,
    --undo restores the file byte for byte."""
    from governance import route as routing

    context: CommandContext = ctx.obj
    if tool not in ROUTE_TOOLS:
        raise BadInputError(f"no tool {tool!r}: one of {', '.join(ROUTE_TOOLS)}")
    if apply_ and undo_:
        raise BadInputError("--apply and --undo go one at a time")
    backups = context.home / "route"
    if undo_:
        out.print(f"put back {routing.undo(tool, backups)} as it was", markup=False)
        return
    url = gateway or next(iter(context.settings.proxy.gateways), None)
    if not url:
        raise BadInputError("no gateway: give --gateway URL, or set proxy.gateways in config.toml")
    planned = routing.route_for(tool, url, user or getpass.getuser(), Path.home())
    if not apply_:
        out.print(f"# {planned.file} would read (`offgate route {tool} --apply` writes it):", markup=False)
        out.print(planned.content, markup=False, end="")
        out.print(f"# then {planned.key_hint}", markup=False)
        return
    backup = routing.apply(planned, backups)
    out.print(f"wrote {planned.file} (as it was is kept in {backup}; `offgate route {tool} --undo` puts it back); "
              f"now {planned.key_hint}", markup=False)
