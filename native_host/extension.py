"""The browser extension as the host knows it: its folder, its fixed ids, its generated files.

Chromium derives an extension's id from the public key in its manifest (`key`): the first
32 hex digits of sha256(DER SubjectPublicKeyInfo), each written as a letter a-p. The
repository keeps only that public key, so every unpacked copy of the extension has the
same id and the host manifest can name it. Firefox uses the Gecko id from the manifest.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path


def _extension_dir() -> Path:
    # The wheel keeps the extension inside this package (no top-level folder of its own in
    # site-packages, where names collide); a checkout keeps it at the repository's top.
    # A path beside this file: importlib.resources is slow to import before the host's first reply.
    here = Path(__file__).resolve().parent
    packaged = here / "browser_extension"
    return packaged if packaged.is_dir() else here.parent / "browser_extension"


EXTENSION_DIR = _extension_dir()
MANIFEST = EXTENSION_DIR / "manifest.json"
HOST_NAME = "dev.offgate.native_host"


def extension_id_from_key(key: str) -> str:
    """The Chromium extension id of a manifest `key` (base64 DER public key)."""
    digest = hashlib.sha256(base64.b64decode(key, validate=True)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(digit, 16)) for digit in digest)


def read_manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def chromium_id() -> str:
    return extension_id_from_key(read_manifest()["key"])


def gecko_id() -> str:
    return read_manifest()["browser_specific_settings"]["gecko"]["id"]


def chromium_origin(extension_id: str) -> str:
    return f"chrome-extension://{extension_id}/"
