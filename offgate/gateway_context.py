"""offgate's context on gateway calls (docs/governance.md, "Richer gateway logs"): the proxy
sends the device, the calling app and its user as request headers; LiteLLM's pre-call hook
(governance/) moves them into the request's metadata and tags, so LiteLLM's own spend logs
and UI carry them. Shared by both ends, so the proxy sends only what the hook accepts.

The headers are claims: any client that reaches the gateway without the proxy can send its
own. The hook only checks their shape and size; they describe, they never authorise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

CONTEXT_HEADERS = {"device": "x-offgate-device", "app": "x-offgate-app", "user": "x-offgate-user"}
TAG_PREFIX = "offgate-"
MAX_VALUE_CHARS = 64
# What a header, a tag and a log line hold without escaping: no commas (tag lists), no quotes.
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+:/ -]")


def header_value(text: str) -> str | None:
    """`text` as the proxy sends it (other characters become "_", cut to MAX_VALUE_CHARS); None if empty."""
    cleaned = _UNSAFE.sub("_", text.strip())[:MAX_VALUE_CHARS].strip()
    return cleaned or None


def context_of(headers: Mapping[str, object]) -> dict[str, str]:
    """The context `headers` claim (names compared lower-case); a value not as the proxy sends it is left out."""
    lowered = {str(name).lower(): value for name, value in headers.items()}
    found: dict[str, str] = {}
    for name, header in CONTEXT_HEADERS.items():
        value = lowered.get(header)
        if isinstance(value, str) and 0 < len(value) <= MAX_VALUE_CHARS and header_value(value) == value:
            found[name] = value
    return found


def context_tags(context: Mapping[str, str]) -> list[str]:
    """The tags LiteLLM logs for `context`: offgate-device:NAME, offgate-app:NAME, offgate-user:NAME."""
    return [f"{TAG_PREFIX}{name}:{value}" for name, value in context.items()]
