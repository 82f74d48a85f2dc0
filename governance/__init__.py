"""Governance: acting on what offgate sees (docs/governance.md).

- `estimate`: a gateway request's worst-case cost, before it is sent;
- `table`: the in-memory table the hook reads (month-to-date spend per person and team, the
  approvals in force), loaded from the store;
- `decisions`: which `require_approval` rule holds a call, given that table;
- `keeper`: refreshes the table on a thread of its own and records approval requests;
- `hook`: the LiteLLM pre-call hook (a CustomLogger named in LiteLLM's config.yaml);
- `check`: `offgate policy check`, what each rule matches in the data.

It imports `offgate` only (never `analytics`: the hook runs inside LiteLLM's process);
`offgate.cli` imports it lazily, inside the commands.
"""

OFFGATE_ROOM = "governance"  # offgate.installation checks this is offgate's own package
