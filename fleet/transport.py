"""How the agent reaches the collector: HTTPS, trusting the system's certificate store or
a CA file given at enrolment. Plain http is accepted only to this machine's loopback,
unless explicitly allowed (a collector behind a TLS-terminating proxy on a trusted
network, say): records and credentials must not cross a network in clear by default."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from fleet.wire import ErrorBody
from offgate.errors import BadInputError

TIMEOUT_S = 30.0


class TransportError(BadInputError):
    """The collector cannot be reached as configured (its URL, the CA file); the message says why."""


def collector_url(url: str, allow_plain_http: bool) -> str:
    """The collector's base URL, checked: https, or http to loopback (or when allowed)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TransportError(f"{url!r} is not a collector URL: use https://HOST[:PORT]")
    if parts.query or parts.fragment:
        raise TransportError(f"{url!r}: a collector URL has no query or fragment")
    if parts.scheme == "http" and not allow_plain_http and not _is_loopback(parts.hostname):
        raise TransportError(f"{url!r} is plain http to another machine: use https, or --allow-plain-http if a "
                             "TLS-terminating proxy or a trusted network protects it")
    return url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trusted CAs, or only those in `ca_file` (a private CA's PEM)."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise TransportError(f"cannot read the CA file {ca_file}: {exc}") from None


def client(ca_file: Path | None) -> httpx.Client:
    # No proxy from the environment: the collector is reached directly, never through our own interceptor.
    return httpx.Client(verify=tls_context(ca_file), timeout=TIMEOUT_S, trust_env=False)


def refusal(response: httpx.Response) -> tuple[str, str]:
    """The collector's error code and message (or what can be said of a reply without one)."""
    try:
        error = ErrorBody.model_validate_json(response.content).error
        return error.code, error.message
    except ValueError:
        return f"http_{response.status_code}", f"HTTP {response.status_code} {response.reason_phrase}"


def unreachable(url: str, exc: httpx.HTTPError) -> str:
    reason = str(exc) or type(exc).__name__
    return f"cannot reach the collector at {url}: {reason}"
