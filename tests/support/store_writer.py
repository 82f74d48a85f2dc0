"""A separate process that writes to a store, to test writers in several processes.

    python tests/support/store_writer.py URL NAME COUNT SIGNAL_DIR [SOURCE]

Creates SIGNAL_DIR/NAME.ready, waits for SIGNAL_DIR/go so that all writers start together,
then opens the store and adds COUNT events (ids NAME-0...) a few per transaction. Exits 0
only if every add succeeded. With SOURCE, the events are that capture path's records of
the calls response-0...: writers with different sources record the same calls.

Tests start them with `write_at_once`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from offgate.events import UsageEvent
from offgate.store import Store

EVENTS_PER_TRANSACTION = 5
START_TIMEOUT_S = 60


def main(url: str, name: str, count: int, signal_dir: Path, source: str | None = None) -> None:
    (signal_dir / f"{name}.ready").touch()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (signal_dir / "go").exists():
        if time.monotonic() > deadline:
            sys.exit(f"{name}: no go signal")
        time.sleep(0.005)
    events = [UsageEvent(id=f"{name}-{n}", host="api.openai.com", path="/v1/chat/completions",
                         **({"source": source, "response_id": f"response-{n}"} if source else {}))
              for n in range(count)]
    with Store.open(url) as store:
        for start in range(0, count, EVENTS_PER_TRANSACTION):
            store.add(events[start:start + EVENTS_PER_TRANSACTION])


def write_at_once(url: str, names: list[str], count: int, signal_dir: Path, with_source: bool = False) -> None:
    """Run one writer process per name, released together; each must exit 0."""
    writers = [subprocess.Popen([sys.executable, __file__, url, name, str(count), str(signal_dir),
                                 *([name] if with_source else [])],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in names]
    deadline = time.monotonic() + START_TIMEOUT_S
    while not all((signal_dir / f"{name}.ready").exists() for name in names):
        assert time.monotonic() < deadline, "writers did not start"
        time.sleep(0.01)
    (signal_dir / "go").touch()
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), *sys.argv[5:])
