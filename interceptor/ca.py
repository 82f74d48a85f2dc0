"""The interception CA: made once per home directory, kept there, never in the repo."""

from __future__ import annotations

from pathlib import Path

from mitmproxy.certs import CertStore
from mitmproxy.options import CONF_BASENAME

CA_DIR = "ca"
KEY_SIZE = 2048


def ca_dir(home: Path) -> Path:
    """mitmproxy's confdir: the CA files live here under mitmproxy's own names."""
    return home / CA_DIR


def ensure_ca(home: Path) -> Path:
    """The CA certificate to trust, creating the CA first if missing (key file mode 0600)."""
    directory = ca_dir(home)
    if not (directory / f"{CONF_BASENAME}-ca.pem").exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        CertStore.create_store(directory, CONF_BASENAME, KEY_SIZE,
                               organization="offgate", cn="offgate interception CA")
    return directory / f"{CONF_BASENAME}-ca-cert.pem"
