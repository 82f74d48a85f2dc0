"""How the tests read a report shown in headless Chromium (the HTML report, the dashboard): the
browser's arguments, the hostile text that must stay text, and the data-* values the pages carry."""

from __future__ import annotations

import json

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
HOSTILE = "<script>alert('mailed')</script>"
# Each table row's key and its cells' exact values, read from their data-* attributes.
TABLE_ROWS = """trs => trs.map(tr => [tr.dataset.key,
    Object.fromEntries([...tr.querySelectorAll('td[data-field]')].map(td => [td.dataset.field, td.dataset.value]))])"""


def exact(text: str) -> object:
    """A data-value attribute as the JSON value it holds (an empty one: none)."""
    return None if text == "" else json.loads(text)
