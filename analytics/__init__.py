"""What the records mean: LiteLLM spend sources, reconciliation and the unmanaged-usage report."""

OFFGATE_ROOM = "analytics"  # offgate.installation checks this is offgate's own package
