"""The words every room uses for the same things, written out once.

- classes: what reconciliation makes of a captured call (ARCHITECTURE.md, "Classification");
- dimensions: what calls are counted by (the report's `--by`, the alerts' entities), and the
  usage_event column each one reads; "day" (the call's UTC date) is a grouping, not a dimension;
- spend sources: where LiteLLM's spend rows were imported from.
"""

from __future__ import annotations

from typing import Literal, get_args

GATEWAY, GATEWAY_UPSTREAM, UNMANAGED = "gateway", "gateway-upstream", "unmanaged"
CLASSES = (GATEWAY, GATEWAY_UPSTREAM, UNMANAGED)  # reconciliation stores a class as its index here



# What calls are counted by (the command line offers a Literal as a choice; a JSON Schema shows it as an enum).
Dimension = Literal["user", "device", "app", "provider", "model", "key", "process", "team"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
# A user's team is no column: it comes from the people mapping (offgate.store.people).
TEAM = "team"
# Dimension -> the usage_event column it reads (the others read the column of their name).
DIMENSION_COLUMNS = {name: {"key": "key_fingerprint", "process": "process_name"}.get(name, name)
                     for name in DIMENSIONS if name != TEAM}
DAY = "day"

# The dimensions alerts can watch: those that name someone or something to tell.
AlertDimension = Literal["user", "device", "app", "provider", "key"]
ALERT_DIMENSIONS: tuple[AlertDimension, ...] = get_args(AlertDimension)

SPEND_SOURCES = ("callback", "rest", "sql", "file")
