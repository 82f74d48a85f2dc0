"""The stream parser alone: CPU seconds to read a 100 MB Chat Completions SSE stream.

    uv run python bench/stream_parse_bench.py [--megabytes 100] [--repeats 5]

The body is the one bench/fake_provider.py sends for `x-bench-stream-bytes` (~64 KB
events, a usage chunk, `[DONE]`), fed to offgate's ChatCompletions parser in chunks of
64 KB (as the proxy bench's client reads them) and of 4 KB (a slow network's reads), with
no proxy around it: the parser's own CPU on the event loop. Prints the median of the
repeats per chunk size, as process CPU time, so other programs' load distorts it less
than wall time; it still slows a shared CPU's caches, so compare runs made side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fake_provider import BIG_EVENT_CONTENT, DONE, _event

from offgate.catalog.base import Reading
from offgate.catalog.openai import ChatCompletions

MB = 1024 * 1024
REQUEST = json.dumps({"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
                      "messages": [{"role": "user", "content": "hi"}]}).encode()


def stream_body(megabytes: int) -> bytes:
    event = _event("chatcmpl-bench", {"content": "x" * BIG_EVENT_CONTENT})
    events = max(1, megabytes * MB // len(event))
    usage = {"prompt_tokens": 9, "completion_tokens": events, "total_tokens": 9 + events}
    return event * events + _event("chatcmpl-bench", None, usage) + DONE


def read(chunks: list[bytes]) -> tuple[float, Reading]:
    """The CPU seconds the parser took over these chunks, and what it read."""
    started = time.process_time()
    parser = ChatCompletions()
    parser.read_request(REQUEST)
    parser.start_response(200, {"content-type": "text/event-stream"})
    for chunk in chunks:
        parser.feed(chunk)
    reading = parser.finish()
    return time.process_time() - started, reading


def main() -> None:
    options = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    options.add_argument("--megabytes", type=int, default=100)
    options.add_argument("--repeats", type=int, default=5)
    args = options.parse_args()
    body = stream_body(args.megabytes)
    for chunk_size in (64 * 1024, 4 * 1024):
        chunks = [body[at:at + chunk_size] for at in range(0, len(body), chunk_size)]
        seconds, reading = zip(*(read(chunks) for _ in range(args.repeats)), strict=True)
        last = reading[-1]
        assert last.status == "ok" and last.usage is not None, (last.status, last.error)
        print(f"{len(body) / MB:.0f} MB in {chunk_size // 1024} KB chunks: {statistics.median(seconds):.3f} CPU-s "
              f"(median of {args.repeats}; min {min(seconds):.3f}); completion tokens "
              f"{last.usage.completion_tokens}, characters counted past the cap {last.completion_chars_not_kept:,}")


if __name__ == "__main__":
    main()
