"""Enrolment tokens and device credentials: random secrets of which the database keeps
only a SHA-256 hash. They carry 256 random bits, so a plain hash (no salt, no slow KDF)
cannot be reversed, and a lookup by hash reveals nothing through its timing."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "ogt_"  # enrolment token: an admin hands it out, it enrols devices
CREDENTIAL_PREFIX = "ogd_"  # device credential: it pushes one device's records, nothing else
SECRET_BYTES = 32


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_public_id() -> str:
    """A short id to name a token or device in lists and logs (not a secret)."""
    return secrets.token_hex(6)
