"""The proxy's writer: batches off the event loop, spools while the store is down, and
writes the spool once the store answers again. Nothing is lost."""

from __future__ import annotations

import socket

from offgate.events import UsageEvent
from offgate.store import Store
from offgate.writer import SPOOL_FILE, EventWriter


def dead_postgres_url() -> str:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://offgate:secret@127.0.0.1:{port}/offgate?connect_timeout=1"


def events(n: int, prefix: str) -> list[UsageEvent]:
    return [UsageEvent(id=f"{prefix}{i}", host="api.openai.com", path="/v1/chat/completions",
                       prompt_tokens=i) for i in range(n)]


def test_batches_reach_the_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    writer = EventWriter(lambda: Store.open(url), tmp_path, to_event=lambda e: e, batch_size=7)
    writer.start()
    for event in events(50, "ok"):
        writer.put(event)
    writer.close()
    with Store.open(url) as store:
        assert {e.id for e in store.events()} == {f"ok{i}" for i in range(50)}
        assert store.count() == 50
    assert (writer.written, writer.spooled) == (50, 0)


def test_store_down_spools_then_replays(tmp_path):
    down = EventWriter(lambda: Store.open(dead_postgres_url()), tmp_path, to_event=lambda e: e)
    down.start()
    for event in events(20, "spooled"):
        down.put(event)
    down.close()
    assert (down.written, down.spooled) == (0, 20)
    spool = tmp_path / SPOOL_FILE
    assert len(spool.read_text().splitlines()) == 20
    assert "secret" not in spool.read_text()

    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    up = EventWriter(lambda: Store.open(url), tmp_path, to_event=lambda e: e)
    up.start()
    for event in events(5, "fresh"):
        up.put(event)
    up.close()
    assert not spool.exists()
    with Store.open(url) as store:
        ids = {e.id for e in store.events()}
    assert ids == {f"spooled{i}" for i in range(20)} | {f"fresh{i}" for i in range(5)}


def test_a_damaged_spool_line_is_set_aside_not_lost(tmp_path):
    good = events(3, "good")
    lines = [good[0].model_dump_json(), '{"id": "half', good[1].model_dump_json(), good[2].model_dump_json()]
    (tmp_path / SPOOL_FILE).write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    writer = EventWriter(lambda: Store.open(url), tmp_path, to_event=lambda e: e)
    writer.start()
    writer.close()
    with Store.open(url) as store:
        assert {e.id for e in store.events()} == {"good0", "good1", "good2"}
    assert not (tmp_path / SPOOL_FILE).exists()
    assert (tmp_path / "spool.rejected").read_text() == '{"id": "half\n'
