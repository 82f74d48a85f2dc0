"""API keys are never stored: only a short salted hash that groups calls by key, and the
short hint the provider's own console shows for it (how a bill names the key)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from offgate.secret_file import read_or_create

# Headers that carry a provider API key, lower-case (OpenAI/Azure/Anthropic/Gemini).
_KEY_HEADERS = ("x-api-key", "api-key", "x-goog-api-key")
# Query parameters that carry one, lower-case: Gemini's `key` (the Live API's WebSocket
# URL too), Microsoft Copilot's `accessToken`.
_KEY_PARAMETERS = ("key", "accesstoken")
# Query parameters whose values are stored: which API version, format or model was asked for.
HARMLESS_PARAMETERS = ("alt", "api-version", "beta", "batch", "model")
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
SALT_FILE = "key-salt"
SALT_BYTES = 16


def api_key_from(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The API key a request presents, if any (headers: a case-insensitive mapping)."""
    auth = headers.get("authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for name in _KEY_HEADERS:
        value = headers.get(name)
        if value and value.strip():
            return value.strip()
    for name, value in query.items():
        if name.lower() in _KEY_PARAMETERS and value.strip():
            return value.strip()
    return None


def path_without_keys(path: str) -> str:
    """The request path as it may be stored: no key, and no query value that could say who
    or what (a session, a channel, a search). Only the values of HARMLESS_PARAMETERS stay;
    other parameters keep their name, and a name that is no plain identifier (it may be
    text) goes too."""
    base, _, query = path.partition("?")
    kept = []
    for field in query.split("&"):
        name, equals, value = field.partition("=")
        if not _PARAMETER_NAME.fullmatch(name):
            continue
        kept.append(name + equals + (value if name.lower() in HARMLESS_PARAMETERS else ""))
    return base + "?" + "&".join(kept) if kept else base


def load_salt(home: Path) -> bytes:
    """This installation's salt, made on first use (mode 0600); processes racing to make it
    all end with the same one."""
    return read_or_create(home / SALT_FILE, lambda: secrets.token_bytes(SALT_BYTES))


def key_fingerprint(key: str, salt: bytes) -> str:
    """A 12-hex-digit salted HMAC: the same key gives the same value; the key stays unknown."""
    return hmac.new(salt, key.encode(), hashlib.sha256).hexdigest()[:12]


# The prefixes providers put before a key's secret, longest first: a hint keeps the prefix whole.
_KEY_PREFIXES = ("sk-ant-admin01-", "sk-ant-api03-", "sk-or-v1-", "sk-svcacct-", "sk-proj-", "sk-admin-", "sk-")
HINT_HEAD, HINT_TAIL = 3, 4
_SHORTEST_HINTED = 16  # a shorter "key" would be given away by its hint


def key_hint(key: str) -> str | None:
    """The key as the providers' consoles and admin APIs show it: its prefix and the first three
    characters after it, "...", and its last four (Anthropic's `partial_key_hint`
    "sk-ant-api03-R2D...igAA", OpenRouter's key `label` "sk-or-v1-0e6...1c96", OpenAI's
    `redacted_value`). None for a key too short to hint at without giving it away."""
    prefix = _prefix(key)
    secret = key[len(prefix):]
    if len(secret) < _SHORTEST_HINTED:
        return None
    return f"{prefix}{secret[:HINT_HEAD]}...{secret[-HINT_TAIL:]}"


def hints_agree(ours: str, theirs: str) -> bool:
    """Whether two hints can name one key: each shows a start and an end of it, maybe of
    different lengths (OpenAI's "sk-abc...def" against "sk-proj-abc...wdef")."""
    head, _, tail = ours.partition("...")
    their_head, _, their_tail = theirs.partition("...")
    prefix, their_prefix = _prefix(head), _prefix(their_head)
    start, their_start = head[len(prefix):], their_head[len(their_prefix):]
    return ((prefix.startswith(their_prefix) or their_prefix.startswith(prefix))
            and (start.startswith(their_start) or their_start.startswith(start))
            and (tail.endswith(their_tail) or their_tail.endswith(tail)))


def _prefix(key: str) -> str:
    return next((prefix for prefix in _KEY_PREFIXES if key.startswith(prefix)), "")
