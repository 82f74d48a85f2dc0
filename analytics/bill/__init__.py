"""The providers' bills, the third witness: their usage and cost APIs and the clouds' billing
exports into offgate's store (`offgate bill import`), and the reconciliation of what was
billed against what LiteLLM logged and what the agents captured going around it."""
