"""API keys are never stored: only a short salted hash that groups calls by key."""

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
