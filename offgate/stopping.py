"""How long-running commands stop: on SIGINT (Ctrl-C) or SIGTERM, from their event loop or their thread."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable


def on_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """Call `stop` on the loop when SIGINT or SIGTERM arrives."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop)
        except NotImplementedError:  # Windows' proactor loop
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop))


def stop_event() -> threading.Event:
    """An event set when SIGINT or SIGTERM arrives, for a command that runs until then."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
