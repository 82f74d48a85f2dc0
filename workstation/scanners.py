"""The scanners `offgate scan` runs, in order, by name. A new one is a `Scanner` appended here."""

from __future__ import annotations

from workstation.agent_logs import scan_agent_logs
from workstation.inventory import scan_inventory
from workstation.scan import ScanContext, Scanner, ScanResult
from workstation.shell_history import scan_shell_history


def scan_apps(context: ScanContext) -> ScanResult:
    """The AI apps installed and running for the home's owner (the inventory)."""
    found = scan_inventory(context.user_home, context.store, context.now, device=context.device)
    return ScanResult("inventory", read={"apps installed": len(found.installed), "apps running": len(found.running)},
                      kept={"apps new to this device": len(found.new_apps)})


def scan_shells(context: ScanContext) -> ScanResult:
    """AI command-line tools run, and provider keys typed, in the home's shell histories."""
    found = scan_shell_history(context.user_home, context.store, context.now, salt=context.salt,
                               device=context.device)
    return ScanResult("shell-history", read={"history files": found.files_read, "history entries": found.entries},
                      kept={"AI tool runs": sum(found.runs.values()), "keys typed in a shell": len(found.keys)})


SCANNERS: list[tuple[str, Scanner]] = [
    ("agent-logs", scan_agent_logs),
    ("inventory", scan_apps),
    ("shell-history", scan_shells),
]
