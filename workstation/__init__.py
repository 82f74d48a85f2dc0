"""What the workstation itself says, beside the network: the AI apps, agents and IDE extensions
installed and running here, and how often AI command-line tools ran (from shell history).

- `processes`: running AI apps, agents and language servers (psutil), with CPU time and memory;
- `installed`: IDE extensions, JetBrains plugins and desktop apps found on disk (or in the registry);
- `inventory`: one scan of both into the store (`scan_inventory`);
- `shell_history`: per day and tool, AI command-line runs from bash, zsh and fish history, and
  provider keys typed in a shell, as fingerprints (`scan_shell_history`).

The signatures (what names each app goes by) live in offgate.catalog.app_signatures.
It imports `offgate` only; `offgate.cli` imports it lazily, inside the commands.
"""

OFFGATE_ROOM = "workstation"  # offgate.installation checks this is offgate's own package
