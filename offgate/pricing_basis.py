"""What a stored cost stands for, read back from the call's cost and its note (no column of its
own: every capture path writes its note with the words defined here, which this module reads).

- `plan_equivalent`: a subscription plan's use priced at API rates (an agent signed in with a
  Claude or ChatGPT plan, a web app, a subscription IDE assistant): a seat, not money per token;
- `retired_price`: a model LiteLLM's map dropped, priced at its last listed price;
- `api`: the list price of LiteLLM's current map;
- `unpriced`: no cost (in no sum).
A plan's call on a retired model is `plan_equivalent` (what the money means comes first);
`retired_listing` still finds its listing.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

PricingBasis = Literal["api", "plan_equivalent", "retired_price", "unpriced"]
PRICING_BASES: tuple[PricingBasis, ...] = get_args(PricingBasis)

# An agent on a plan (workstation.agent_logs) and a subscription app priced as an API model (offgate.recording).
SUBSCRIPTION_NOTE = "api-equivalent (subscription): the agent runs on a plan, priced as the API would bill it"
APP_EQUIVALENT_NOTE = "API-equivalent estimate, priced as"
_PLAN_NOTES = (SUBSCRIPTION_NOTE, APP_EQUIVALENT_NOTE)
_RETIRED = re.compile(r"retired model: last listed price \((?P<listed_in>[^,()]+), (?P<listed>\d{4}-\d{2}-\d{2})\)")


def retired_note(listed_in: str, listed: str) -> str:
    """The note of a cost priced at a retired model's last listed price (offgate.pricing)."""
    return f"retired model: last listed price ({listed_in}, {listed}); LiteLLM's current price map no longer has it"


def on_a_plan(note: str | None) -> str:
    """The note of a cost that is a plan's API-equivalent, given the note pricing wrote for it."""
    if pricing_basis(True, note) == "plan_equivalent":
        return note or SUBSCRIPTION_NOTE
    return "; ".join(part for part in (SUBSCRIPTION_NOTE, note) if part)


def pricing_basis(priced: bool, note: str | None) -> PricingBasis:
    """The basis of a call's cost: `priced` says whether it has one, `note` is its cost_note."""
    if not priced:
        return "unpriced"
    if note and any(part.startswith(_PLAN_NOTES) for part in note.split("; ")):
        return "plan_equivalent"
    if retired_listing(note) is not None:
        return "retired_price"
    return "api"


def retired_listing(note: str | None) -> tuple[str, str] | None:
    """(the litellm version, the date) a retired model's price was last listed in, if the note says so."""
    found = _RETIRED.search(note or "")
    return (found["listed_in"], found["listed"]) if found else None
