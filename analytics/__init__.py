"""What the records mean: LiteLLM spend sources, reconciliation and the unmanaged-usage report."""
