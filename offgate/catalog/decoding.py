"""Incremental Content-Encoding decoders (gzip, deflate, br, zstd).

A stream is decoded chunk by chunk as it passes, so memory stays flat with body size.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from types import ModuleType


class DecodeError(ValueError):
    """The body does not match its Content-Encoding."""


Decoder = Callable[[bytes], bytes]


class _Deflate:
    # "deflate" is zlib-wrapped by the RFC, but some servers send raw deflate: try both.
    def __init__(self) -> None:
        self._inner: Decoder | None = None

    def __call__(self, chunk: bytes) -> bytes:
        if self._inner is None:
            if not chunk:
                return b""
            raw = (chunk[0] & 0x0F) != 8
            self._inner = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS).decompress
        return self._inner(chunk)


def _gzip() -> Decoder:
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress


def _brotli_module() -> ModuleType:
    """brotli, loaded by the first br body (as zstd): the native host never decodes."""
    import brotli

    return brotli


def _brotli() -> Decoder:
    return _brotli_module().Decompressor().process


def zstd_module() -> ModuleType:
    """zstd, loaded by the first zstd body: the native host never decodes, and answers faster without it."""
    # Python 3.14 ships zstd; before that the backport does (mitmproxy needs it too).
    if sys.version_info >= (3, 14):  # pragma: no cover - depends on the Python version
        from compression import zstd
    else:
        from backports import zstd
    return zstd


def _zstd() -> Decoder:
    return zstd_module().ZstdDecompressor().decompress


def _errors(names: list[str]) -> tuple[type[Exception], ...]:
    """What the decoders of `names` raise on a body that does not match its encoding."""
    errors: tuple[type[Exception], ...] = (zlib.error, EOFError)
    if "br" in names:
        errors += (_brotli_module().error,)
    return (*errors, zstd_module().ZstdError) if "zstd" in names else errors


def _identity(chunk: bytes) -> bytes:
    return chunk


_FACTORIES: dict[str, Callable[[], Decoder]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _Deflate,
    "br": _brotli,
    "zstd": _zstd,
}


def make_decoder(content_encoding: str | None) -> Decoder:
    """A function that turns each encoded chunk into decoded bytes; raises DecodeError."""
    names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    if not names:
        return _identity
    decoders: list[Decoder] = []
    for name in names:
        factory = _FACTORIES.get(name)
        if factory is None:
            raise DecodeError(f"unsupported content-encoding {name!r}")
        decoders.append(factory())
    # Encodings are listed in the order they were applied: undo them in reverse.
    decoders.reverse()
    errors = _errors(names)

    def decode(chunk: bytes) -> bytes:
        try:
            for step in decoders:
                chunk = step(chunk)
        except errors as exc:
            raise DecodeError(f"body is not valid {content_encoding}: {exc}") from exc
        return chunk

    return decode
