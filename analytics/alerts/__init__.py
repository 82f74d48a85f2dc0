"""Statistical alerts over the store: spikes and surges against seasonal baselines,
first-seen AI tools, month-end budget forecasts and a rising unmanaged share."""

from analytics.alerts.evaluate import evaluate, find_alerts, raise_new_alerts

__all__ = ["evaluate", "find_alerts", "raise_new_alerts"]
