"""The parts of the TLS fallback that need no proxy: how long a refusal is remembered, by whom,
and counts that survive a store that is down for a while."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from datetime import UTC, datetime

import psutil
from mitmproxy import tls
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers.tls import parse_client_hello
from mitmproxy.test import taddons, tflow

from interceptor import attribution, tls_fallback
from interceptor.attribution import ProcessCache
from interceptor.fail_open import FailOpen
from interceptor.tls_fallback import CountWriter, RefusalMemory, TLSFallback, UnreadTally
from offgate.store import Store
from offgate.store.unread import UnreadConnectionStore, UnreadSource
from tests.support.ports import free_port

CURL = UnreadSource("api.openai.com", "curl", "/usr/bin/curl", "alice", "alice-laptop")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOST = "api.openai.com"


def test_a_refusal_lets_connections_pass_until_it_expires():
    memory = RefusalMemory()
    key = ("program", "alice", "/usr/bin/curl", "api.openai.com")
    assert not memory.passes(key, now=100.0)
    memory.refuse(key, until=100.0 + 1800)
    assert memory.passes(key, now=100.0 + 1799)
    assert not memory.passes(("program", "alice", "/usr/bin/curl", "claude.ai"), now=200.0)  # per host
    assert not memory.passes(("program", "bob", "/usr/bin/curl", "api.openai.com"), now=200.0)  # per user
    assert not memory.passes(key, now=100.0 + 1800)  # then the next connection is intercepted again


def test_the_memory_forgets_the_oldest_refusals_first():
    memory = RefusalMemory(max_entries=2)
    for number in range(3):
        memory.refuse(number, until=1000.0)
    assert [memory.passes(number, now=0.0) for number in range(3)] == [False, True, True]


def test_counts_wait_for_a_store_that_is_down_and_are_written_once(tmp_path):
    tally = UnreadTally()
    urls = [f"postgresql://offgate@127.0.0.1:{free_port()}/offgate?connect_timeout=1",
            f"sqlite:///{tmp_path / 'offgate.db'}"]
    opened = threading.Event()

    def open_store() -> Store:
        url = urls.pop(0) if len(urls) > 1 else urls[0]
        store = Store.open(url)  # the first raises StoreError: nothing listens there
        opened.set()
        return store

    writer = CountWriter(tally, open_store, interval=0.05)
    tally.note(CURL, AT, refused=True)
    writer.start()
    assert opened.wait(30)  # the first write failed, the second opened the store
    tally.note(CURL, AT, refused=False)
    writer.close()
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        (found,) = UnreadConnectionStore(store).by_process_and_host()
    assert (found["process"], found["handshakes_failed"], found["passed_through"]) == ("curl", 1, 1)


def client_hello_for(host: str) -> tls.ClientHello:
    """The ClientHello Python's own TLS client sends to `host`."""
    client = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=host)
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the server's answer
        client.do_handshake()
    hello = parse_client_hello(outgoing.read())
    assert hello is not None
    return hello


def test_a_client_hanging_up_as_it_refuses_is_remembered_by_its_program(monkeypatch):
    """curl refuses the certificate and closes its socket at once, and then nothing links the
    socket to curl any more. Its process lookup, slower here than the handshake, settles while
    the client still waits for the ServerHello, so the refusal is curl's (not its address's)
    and curl's next connection, found by program, passes through."""
    find = attribution.find_client_process

    def slow_lookup(peer, proxy):
        time.sleep(0.05)
        return find(peer, proxy)

    monkeypatch.setattr(attribution, "find_client_process", slow_lookup)
    monkeypatch.setattr(tls_fallback, "ATTRIBUTION_WAIT", 10.0)  # a loaded machine's lookup still settles
    processes = ProcessCache()
    fallback = TLSFallback(processes, FailOpen())
    client_hello, hellos = client_hello_for(HOST), []
    try:
        with taddons.context(fallback) as tctx, socket.create_server(("127.0.0.1", 0)) as server:
            for connection in ("refused", "passed"):
                with socket.create_connection(server.getsockname()):
                    accepted, peer = server.accept()
                    with accepted:
                        client = tflow.tclient_conn()
                        client.peername, client.sockname = peer, accepted.getsockname()
                        processes.start(client.id, client.peername, client.sockname)
                        hello = tls.ClientHelloData(Context(client, tctx.options), client_hello)
                        asyncio.run(fallback.tls_clienthello(hello))
                        hellos.append(hello)
                if connection == "refused":  # the client is gone when the handshake's failure is told
                    asyncio.run(fallback.tls_failed_client(tls.TlsData(hello.context.client, hello.context)))
    finally:
        processes.close()
    assert [hello.ignore_connection for hello in hellos] == [False, True]
    me = psutil.Process()
    assert [(count.source.process_name, count.source.exe, count.handshakes_failed, count.passed_through)
            for count in fallback.tally.take()] == [(me.name(), me.exe(), 1, 1)]
