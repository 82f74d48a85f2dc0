"""An alert's key and id, apart from the Alert model, so a migration can re-key alerts already
stored when what tells two alerts apart changes (offgate.store.alerts)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from offgate.store.sql import naive_utc

# Each is about one approval request, and one person's requests may be held or decided in one second.
PER_REQUEST = ("approval_request", "approval_decided", "approval_expired")


def alert_key(about: str, kind: str, request_id: object) -> str:
    """`about` (kind, dimension, entity, metric), with the request for kinds about one request."""
    return f"{about}|{request_id}" if kind in PER_REQUEST and request_id else about


def alert_id(key: str, ts: datetime) -> str:
    """From the key and the time: the same alert raised twice has one id."""
    moment = naive_utc(ts).isoformat(timespec="seconds")
    return hashlib.sha256(f"{key}|{moment}".encode()).hexdigest()[:10]
