"""The journal's lines: written fast on the proxy's event loop, read back exactly."""

from __future__ import annotations

from offgate.journal import JOURNAL_DIR, Journal


def test_journal_lines_are_ascii_and_read_back_as_written(tmp_path):
    """orjson writes the common line; what it cannot write as ASCII (text beyond ASCII, lone
    surrogates, integers past 64 bits) still reads back exactly, from an ASCII line."""
    values = [
        {"host": "api.openai.com", "started": 1765152000.123456, "ms": 1e-05, "tokens": 12, "model": None,
         "streamed": True, "texts": []},
        {"prompt_texts": ["Grüß dich, 世界 👋"]},
        {"prompt_texts": ["half a pair \udc80 of surrogates"]},
        {"tokens": 2**70},
    ]
    journal = Journal(tmp_path)
    for value in values:
        journal.append("call", value)
    raw = b"".join(path.read_bytes() for path in (tmp_path / JOURNAL_DIR).glob("*.jsonl"))
    journal.close()  # no line settled: the segment is handed over to be read back
    assert raw.isascii()
    assert raw.count(b"\n") == len(values)
    (segment,) = Journal(tmp_path).unheld_segments()
    entries, unreadable = segment.read()
    segment.release()
    assert unreadable == []
    assert [(entry.kind, entry.data) for entry in entries] == [("call", value) for value in values]
