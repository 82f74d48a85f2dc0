"""/metrics for Prometheus, computed from the store on every scrape: nothing is counted in
memory, so the numbers hold across restarts and whichever process wrote the calls.

Spend and calls cover the last 30 days (what `offgate report` shows by default, with the same
numbers); open alerts are all those not acknowledged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from analytics.dashboard.reads import reads
from analytics.report.model import build_report
from analytics.report.values import label
from offgate.store import Store
from offgate.store.alerts import SEVERITIES, AlertStore
from offgate.vocabulary import GATEWAY, GATEWAY_UPSTREAM, UNMANAGED

WINDOW = timedelta(days=30)
CALLS_BY_CLASS = ((GATEWAY, "gateway_calls"), (GATEWAY_UPSTREAM, "gateway_upstream_calls"),
                  (UNMANAGED, "unmanaged_calls"))


async def scrape(request: web.Request) -> web.Response:
    now = datetime.now(UTC)
    text = await reads(request).run(lambda store: metrics_text(store, now))
    return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_text(store: Store, now: datetime) -> bytes:
    """The exposition text, read from the store now (blocking: call it off the event loop)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, now))
    return generate_latest(registry)


class StoreCollector:
    def __init__(self, store: Store, now: datetime) -> None:
        self._store = store
        self._now = now

    def collect(self) -> Iterator[Metric]:
        report = build_report(self._store, self._now - WINDOW, self._now, "provider", coaching=False)
        totals = report.totals
        yield _gauge("offgate_calls", "Captured calls in the last 30 days, by classification "
                     "(as reconciled; calls not reconciled yet by their route).", "classification",
                     [(name, getattr(totals, field)) for name, field in CALLS_BY_CLASS])
        yield _gauge("offgate_cost_usd", "Spend in the last 30 days in USD: managed (what LiteLLM logged, plus "
                     "offgate's estimate for gateway calls it did not log) and unmanaged (offgate's estimate).",
                     "side", [("managed", totals.managed_cost_usd), ("unmanaged", totals.unmanaged_cost_usd)])
        coverage = totals.coverage
        yield _gauge("offgate_coverage_ratio", "Managed share of the spend in the last 30 days (absent while "
                     "there is no spend).", None, [] if coverage is None else [(None, coverage)])
        yield _gauge("offgate_unmanaged_calls", "Unmanaged calls in the last 30 days, by provider.", "provider",
                     [(label(row.key), row.unmanaged_calls) for row in report.rows])
        yield _gauge("offgate_unmanaged_cost_usd", "Unmanaged spend in the last 30 days in USD (offgate's "
                     "estimate), by provider.", "provider",
                     [(label(row.key), row.unmanaged_cost_usd) for row in report.rows])
        yield _gauge("offgate_findings", "Reconciliation findings about the last 30 days, by kind.", "kind",
                     list(report.findings_by_kind.model_dump().items()))
        yield _gauge("offgate_unpriced_spend_rows", "LiteLLM spend rows of the last 30 days that logged no cost "
                     "(unknown, in no spend above).", None, [(None, totals.unpriced_spend_rows)])
        yield _gauge("offgate_unreconciled_calls", "Captured calls of the last 30 days not reconciled yet.", None,
                     [(None, totals.unreconciled_calls)])
        open_alerts = Counter(alert.severity for alert in AlertStore(self._store).alerts())
        yield _gauge("offgate_open_alerts", "Alerts not acknowledged, by severity.", "severity",
                     [(severity, open_alerts[severity]) for severity in SEVERITIES])


def _gauge(name: str, help_text: str, label_name: str | None, samples: list[tuple[str | None, float]]) -> Metric:
    gauge = GaugeMetricFamily(name, help_text, labels=[label_name] if label_name else [])
    for label_value, value in samples:
        gauge.add_metric([] if label_value is None else [label_value], value)  # None: the gauge has no label
    return gauge
