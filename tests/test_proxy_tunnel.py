"""Hosts outside the catalog are tunnelled: the client sees the server's own certificate."""

from __future__ import annotations

import socket
import ssl
import threading

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from mitmproxy import certs

from tests.support.proxy_harness import RunningProxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    running = RunningProxy(tmp_path_factory.mktemp("home")).start()
    yield running
    running.stop()


def test_host_outside_the_catalog_keeps_its_own_certificate(proxy, tmp_path):
    other = certs.CertStore.from_store(tmp_path / "other-ca", "other", 2048)
    entry = other.get_cert("127.0.0.1", ["127.0.0.1"])
    pem = entry.cert.to_pem() + entry.privatekey.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.TraditionalOpenSSL,
                                            serialization.NoEncryption())
    (tmp_path / "server.pem").write_bytes(pem)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "server.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_once() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")

    threading.Thread(target=serve_once, daemon=True).start()
    # Trusting only the server's own CA: had offgate decrypted, verification would fail.
    only_other_ca = ssl.create_default_context(cafile=str(tmp_path / "other-ca" / "other-ca-cert.pem"))
    with httpx.Client(proxy=proxy.url, verify=only_other_ca, timeout=10) as client:
        response = client.get(f"https://127.0.0.1:{port}/")
    listener.close()
    assert response.text == "ok"
    store = proxy.store()
    try:
        assert store.count() == 0
    finally:
        store.close()
