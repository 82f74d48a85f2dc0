"""A separate process that writes to a store, to test writers in several processes.

    python tests/store_writer.py URL NAME COUNT SIGNAL_DIR [SOURCE]

Creates SIGNAL_DIR/NAME.ready, waits for SIGNAL_DIR/go so that all writers start together,
then opens the store and adds COUNT events (ids NAME-0...) a few per transaction. Exits 0
only if every add succeeded. With SOURCE, the events are that capture path's records of
the calls response-0...: writers with different sources record the same calls.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), *sys.argv[5:])
