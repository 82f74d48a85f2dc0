"""The `offgate` command: the front door.

The only core package that may import the other rooms, and only lazily inside a command,
so `offgate events` never pays for mitmproxy. One module per group of commands; importing
one registers its commands on `app`, and `offgate --help` lists them in COMMAND_GROUPS order.
"""

import importlib

from offgate.cli.common import app

COMMAND_GROUPS = ("up", "demo", "capture", "certs", "analysis", "bill", "alerts", "dashboard", "extension", "system",
                  "fleet", "fleet_policy", "people", "governance", "inventory", "workstation", "export")
for _group in COMMAND_GROUPS:
    importlib.import_module(f"offgate.cli.{_group}")

__all__ = ["app"]
