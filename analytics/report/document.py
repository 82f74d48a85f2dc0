"""The unmanaged-usage report as a typed document: what `offgate report --format json` prints
and the dashboard's /api/summary serves (docs/schemas/report.schema.json). model.py builds it;
the text, CSV and HTML renderers read it by attribute.

Money is USD (a float; None where nobody knows it), counts are whole numbers, times ISO 8601
in UTC. A dimension's value is null for the calls that lack one.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict

from analytics.bill.reconcile import BillFindingKind
from analytics.findings import FindingKind
from offgate.contracts import Contract, UtcTime
from offgate.pricing_basis import PricingBasis
from offgate.vocabulary import Dimension


class ReportPart(Contract):
    model_config = ConfigDict(frozen=True)


class Totals(ReportPart):
    managed_cost_usd: float
    """What LiteLLM logged for the window, plus offgate's estimate for the gateway calls it did not log."""
    unmanaged_cost_usd: float
    """offgate's estimate for every unmanaged call (API-equivalent prices for web apps)."""
    total_cost_usd: float
    """managed_cost_usd + unmanaged_cost_usd."""
    coverage: float | None
    """managed / total spend; null while there is no spend."""
    managed_calls: int
    """LiteLLM's spend rows of the window plus the gateway calls it did not log."""
    unmanaged_calls: int
    unmanaged_prompt_tokens: int
    unmanaged_completion_tokens: int
    logged_spend_usd: float
    """What LiteLLM's spend rows of the window logged (rows without a cost are in no sum)."""
    spend_rows: int
    unpriced_spend_rows: int
    """Spend rows that logged no cost: unknown, not $0."""
    gateway_calls: int
    """Calls the agents saw going to a gateway."""
    gateway_calls_matched: int
    """Gateway calls paired with a spend row."""
    gateway_upstream_calls: int
    """The gateway's own calls upstream (seen where an agent runs on the gateway host)."""
    unlogged_gateway_calls: int
    """Reconciled gateway calls without a spend row (recent and failed ones too)."""
    unlogged_gateway_cost_usd: float
    captured_calls: int
    unreconciled_calls: int
    """Calls not reconciled yet: they count by their route."""


class Row(ReportPart):
    """One value of the report's dimension (`by`)."""

    key: str | None
    unmanaged_calls: int
    unmanaged_cost_usd: float
    prompt_tokens: int
    """Of the unmanaged calls, as are the completion tokens and the estimated and unpriced calls."""
    completion_tokens: int
    estimated_calls: int
    """Unmanaged calls whose tokens offgate estimated."""
    unpriced_calls: int
    """Unmanaged calls without a price: in no sum."""
    managed_calls: int
    """The clients' calls to the gateway."""
    managed_unpriced_calls: int
    """Managed calls paired with a spend row that logged no cost."""
    managed_cost_usd: float
    """What LiteLLM logged for the calls it logged, offgate's estimate for the others."""
    coverage: float | None


class Source(ReportPart):
    """Where unmanaged usage came from: one user, device, process, app and provider."""

    user: str | None
    device: str | None
    process: str | None
    app: str | None
    provider: str | None
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class Day(ReportPart):
    """One UTC day of the daily trend."""

    day: date
    managed_cost_usd: float
    unmanaged_cost_usd: float
    managed_calls: int
    unmanaged_calls: int
    unpriced_spend_rows: int


class Finding(ReportPart):
    """What reconciliation found that someone should look at: a gateway call LiteLLM did not log,
    a logged cost that disagrees with offgate's, or spend no agent saw."""

    kind: FindingKind
    ts: UtcTime
    event_id: str | None
    """The captured call it is about, if any."""
    request_id: str | None
    """LiteLLM's spend row it is about, if any."""
    model: str | None
    our_cost_usd: float | None
    logged_cost_usd: float | None
    detail: str

    @classmethod
    def from_stored(cls, finding: dict[str, Any]) -> Finding:
        """A finding as the store keeps it (offgate.store.reconciliation)."""
        return cls(kind=finding["kind"], ts=finding["ts"], event_id=finding["event_id"],
                   request_id=finding["spend_request_id"], model=finding["model"],
                   our_cost_usd=finding["our_cost_usd"], logged_cost_usd=finding["logged_cost_usd"],
                   detail=finding["detail"])


class FindingCounts(ReportPart):
    """The window's findings, counted by kind."""

    unlogged_gateway_call: int
    cost_mismatch: int
    spend_not_captured: int


class Estimated(ReportPart):
    """What the numbers rest on that offgate estimated, or could not price."""

    estimated_token_calls: int
    estimated_token_cost_usd: float
    web_app_calls: int
    web_app_cost_usd: float
    """Web-app calls, priced as the same use of the API."""
    unpriced_calls: int
    unpriced_spend_rows: int
    unlogged_gateway_calls: int
    unlogged_gateway_cost_usd: float
    notes: list[str]
    """Sentences for the reader: where the numbers come from, and what to run to complete them."""


class UnreadConnection(ReportPart):
    """Connections the proxy passed through unread, because the client refused its certificate."""

    process: str | None
    host: str
    connections: int
    handshakes_failed: int
    passed_through: int
    first_seen: UtcTime
    last_seen: UtcTime
    message: str


class BillTotals(ReportPart):
    """What a provider billed for the window, and who explains it: billed = explained by the
    gateway + explained by the agents + unexplained."""

    billed_usd: float
    explained_by_gateway_usd: float
    """What LiteLLM logged for the gateway's own keys, up to what was billed."""
    explained_by_agents_usd: float
    """What the agents captured going around the gateway, up to what is left of the bill."""
    unexplained_usd: float
    coverage: float | None
    """explained / billed; null while nothing was billed."""


class BillProvider(BillTotals):
    provider: str


class BillKey(BillTotals):
    provider: str
    key: str
    """The key as the provider's console shows it (its hint), or its id."""
    gateway_key: bool
    """One of the gateway's own upstream keys (from LiteLLM's config)."""


class BillFinding(ReportPart):
    """What the bill shows that someone should look at."""

    kind: BillFindingKind
    provider: str
    key: str
    day: date | None
    """The (first) day it is about."""
    model: str | None
    billed_usd: float | None
    logged_usd: float | None
    token_class: str | None
    """For gateway_mispriced: the billed token class whose list price explains the gap, if one does."""
    detail: str


class Bill(BillTotals):
    """The providers' bills of the window's days against the gateway and the agents."""

    providers: list[BillProvider]
    keys: list[BillKey]
    """Most unexplained first."""
    findings: list[BillFinding]


class BasisTotal(ReportPart):
    """The unmanaged calls priced on one basis (offgate.pricing_basis)."""

    basis: PricingBasis
    calls: int
    cost_usd: float | None
    """null for `unpriced`: unknown, not $0."""


class PlanApp(ReportPart):
    """An app whose plan's use is priced at API rates."""

    app: str | None
    calls: int
    cost_usd: float


class RetiredModel(ReportPart):
    """A model LiteLLM's map dropped, priced at its last listed price."""

    model: str | None
    last_listed_in: str
    """The litellm release whose map listed it last, e.g. "litellm 1.100.0"."""
    last_listed: date
    calls: int
    cost_usd: float


class Pricing(ReportPart):
    """What offgate's prices of the unmanaged calls stand for: `bases` (api, plan_equivalent,
    retired_price, unpriced, always in that order) add up to totals.unmanaged_calls and, but
    for the unpriced, to totals.unmanaged_cost_usd. The managed side is what LiteLLM logged."""

    bases: list[BasisTotal]
    plan_apps: list[PlanApp]
    """The plan_equivalent calls per app, most spend first."""
    retired_models: list[RetiredModel]
    """Every call priced at a retired model's last listed price, whatever its basis (a plan's
    call on a retired model is plan_equivalent, and here too); most spend first."""
    notes: list[str]
    """What the bases mean for the reader, in words."""


class ToolRuns(ReportPart):
    """How many times the shells ran an AI command-line tool on one UTC day (counts only)."""

    day: date
    tool: str
    runs: int


class ShellKey(ReportPart):
    """A provider key typed in a shell, by its salted fingerprint only."""

    device: str
    user: str | None
    provider: str | None
    key_fingerprint: str
    times: int
    first_seen: UtcTime
    last_seen: UtcTime
    message: str
    """E.g. "a raw OpenAI key was used in a shell on ws-17"."""


class InventoryApp(ReportPart):
    """An AI app or agent the inventory saw in the window, its devices together."""

    app: str
    kind: str
    devices: int
    found_in: list[str]
    """Where it was found: process, vscode, cursor, jetbrains, desktop-entry, ..."""
    first_seen: UtcTime
    last_seen: UtcTime
    new: bool
    """First seen in the window."""


class Workstation(ReportPart):
    """What the workstation scans found in the window (`offgate scan`): AI command-line tools
    run per day (the window's whole UTC days), raw keys typed in a shell, and the AI apps
    and agents seen. Never a command line, a path or a key."""

    tool_runs: list[ToolRuns]
    """Oldest day first, then by tool."""
    shell_keys: list[ShellKey]
    """First seen first."""
    apps: list[InventoryApp]
    """Newest first seen first."""
class CoachingCounts(ReportPart):
    unmanaged_calls: int
    """Calls around the gateway that went out (blocked ones are counted apart)."""
    gateway_calls: int
    """Calls through the gateway."""
    coached_calls: int
    """Of the unmanaged calls, those a coach rule marked (the person was told)."""
    blocked_calls: int
    """Direct calls the proxy refused under a block rule."""
    notices_shown: int
    """Coaching notices the browser extension showed."""
    notices_clicked: int
    """Clicks on a notice's link to the sanctioned alternative."""


class CoachingPeriod(CoachingCounts):
    """One week (from its Monday) or UTC day of one tool and person."""

    start: date


class CoachingTrend(CoachingCounts):
    """One tool (app) and person: their counts over the window, and per period: each period
    with any, then the last period of the part's data (so a tool given up shows its zero)."""

    app: str | None
    user: str | None
    """The person, through the people mapping where one is imported."""
    periods: list[CoachingPeriod]
    summary: str
    """In words: unmanaged and gateway calls in the first period and the last, and the coaching counts."""


class Coaching(ReportPart):
    """Does coaching work: per tool and person, unmanaged calls against gateway calls over time,
    with the notices shown and clicked and the calls coached and blocked."""

    period: Literal["week", "day"]
    """Weeks (from Monday, UTC) for windows longer than 14 days or open ones; else UTC days."""
    trends: list[CoachingTrend]
    """Most unmanaged calls first."""


class Report(ReportPart):
    """The unmanaged-usage report of one window, broken down by one dimension."""

    generated_at: UtcTime
    since: UtcTime | None
    """The window's start; null: since the first call."""
    until: UtcTime
    by: Dimension
    """The dimension the rows break unmanaged usage down by ("user": the person, through the
    people mapping where one is imported; "team": theirs)."""
    devices: list[str] = []
    """Only the calls of these devices (all devices when empty), the spend rows paired with them,
    their findings and their unread connections."""
    users: list[str] = []
    """Only the calls of these workstation logins (all when empty), and the spend rows paired with them."""
    totals: Totals
    rows: list[Row]
    """One per value of `by`, most unmanaged spend first."""
    top_sources: list[Source]
    """The ten largest sources of unmanaged spend."""
    daily: list[Day]
    findings: list[Finding]
    """Oldest first."""
    findings_by_kind: FindingCounts
    estimated: Estimated
    unread_connections: list[UnreadConnection]
    """Per process and host, most connections first."""
    pricing: Pricing
    workstation: Workstation
    bill: Bill | None = None
    """The providers' bills against the gateway and the agents; null while no bill is imported."""
    coaching: Coaching | None = None
    """Whether coaching works: every tool and person with unmanaged, coached or blocked calls or
    coaching notices in the window."""
