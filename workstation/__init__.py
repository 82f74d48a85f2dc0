"""What the workstation itself says about LLM use, beside what the network shows.

- `scan`: one pass of every scanner over a user's home (`offgate scan`; `offgate up` on a timer);
  a scanner is a function of a ScanContext returning a ScanResult (`scanners.SCANNERS`);
- `agent_logs`: coding agents' own usage logs (Claude Code, Codex CLI) -> UsageEvents with
  their exact tokens, read incrementally, each call once;
- `processes`: running AI apps, agents and language servers (psutil), with CPU time and memory;
- `installed`: IDE extensions, JetBrains plugins and desktop apps found on disk (or in the registry);
- `inventory`: one scan of both into the store (`scan_inventory`);
- `shell_history`: per day and tool, AI command-line runs from bash, zsh and fish history, and
  provider keys typed in a shell, as fingerprints (`scan_shell_history`).

The app signatures (what names each app goes by) live in offgate.catalog.app_signatures.
It imports `offgate` only; `offgate.cli` imports it lazily, inside the commands.
"""

OFFGATE_ROOM = "workstation"  # offgate.installation checks this is offgate's own package
