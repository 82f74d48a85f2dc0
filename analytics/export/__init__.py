"""The usage records sent on to pipelines a company already runs (OpenTelemetry)."""
