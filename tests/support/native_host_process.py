"""The native host as the browser runs it: a subprocess spoken to in native-messaging frames."""

from __future__ import annotations

import json
import os
import resource
import select
import struct
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any

from native_host.extension import chromium_id, chromium_origin
from tests.support.fixture_files import Fixture

REPLY_TIMEOUT_S = 30
OUR_ORIGIN = chromium_origin(chromium_id())


def frame(message: Any) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return struct.pack("=I", len(body)) + body


class HostProcess:
    """`python -m native_host` with `browser_args` after ours, as the launcher starts it."""

    def __init__(self, home: Path, *browser_args: str, env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        args = command or [sys.executable, "-I", "-m", "native_host", "--home", str(home)]
        # A pipe nobody reads could fill up and stall the host; a file cannot.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the process runs
        self.process = subprocess.Popen([*args, *browser_args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._stderr, env={**os.environ, **(env or {})})

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def ask(self, message: Any) -> dict[str, Any]:
        self.send(frame(message))
        return self.reply()

    def reply(self) -> dict[str, Any]:
        (size,) = struct.unpack("=I", self._read(4))
        return json.loads(self._read(size))

    def close(self) -> int:
        """Close the input, as the browser does, and wait for the exit status."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(REPLY_TIMEOUT_S)

    def output_left(self) -> bytes:
        """Whatever the host wrote after the replies read so far (it must be nothing)."""
        assert self.process.stdout is not None
        return self.process.stdout.read()

    def _read(self, size: int) -> bytes:
        assert self.process.stdout is not None
        data = b""
        while len(data) < size:
            ready, _, _ = select.select([self.process.stdout], [], [], REPLY_TIMEOUT_S)
            assert ready, f"no reply from the host within {REPLY_TIMEOUT_S} s"
            chunk = os.read(self.process.stdout.fileno(), size - len(data))
            assert chunk, f"the host closed its output (exit {self.process.poll()}): {self.stderr()}"
            data += chunk
        return data

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")


def read_reply(stdout: IO[bytes]) -> dict[str, Any]:
    """The next reply on a host's output, waiting as long as it takes (the benchmarks' reader)."""
    (size,) = struct.unpack("=I", stdout.read(4))
    return json.loads(stdout.read(size))


def children_cpu_s() -> float:
    """User and system CPU of the child processes ended (and waited for) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def call_message(fixture: Fixture, **changes: Any) -> dict[str, Any]:
    """What the page tap sends for a fixture's whole HTTP call."""
    message = {
        "type": "call", "id": uuid.uuid4().hex, "transport": "fetch", "url": fixture.url, "method": fixture.method,
        "request_body": fixture.request_body.decode(), "status": fixture.status,
        "response_headers": {"content-type": fixture.response_headers.get("content-type", "")},
        "response_body": fixture.response_body.decode(), "complete": True,
        "started_at": "2026-11-29T10:00:00.000Z", "ttft_ms": 12.5, "duration_ms": 230.0,
        "page_origin": f"https://{fixture.host}",
    }
    return {**message, **changes}


def hello(message_id: str = "hello-1") -> dict[str, Any]:
    return {"type": "hello", "id": message_id, "extension_version": "0.1.0"}
