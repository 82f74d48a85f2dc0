"""What the workstation itself says about LLM use, beside what the network shows.

- `scan`: one pass of every scanner over a user's home (`offgate scan`; `offgate up` on a timer);
  a scanner is a function of a ScanContext returning a ScanResult, so new ones plug in by name;
- `agent_logs`: coding agents' own usage logs (Claude Code, Codex CLI) -> UsageEvents with
  their exact tokens, read incrementally, each call once.

It imports `offgate` only; `offgate.cli` imports it lazily, inside the commands.
"""

OFFGATE_ROOM = "workstation"  # offgate.installation checks this is offgate's own package
