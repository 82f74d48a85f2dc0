"""The scanners `offgate scan` runs, in order, by name. A new one (the inventory, shell
history, ...) is a `Scanner` appended here."""

from __future__ import annotations

from workstation.agent_logs import scan_agent_logs
from workstation.scan import Scanner

SCANNERS: list[tuple[str, Scanner]] = [
    ("agent-logs", scan_agent_logs),
]
