"""Fake AI web apps for the browser tests: chatgpt.com, claude.ai and copilot.microsoft.com
over HTTPS on loopback, with a certificate from a throw-away test CA.

Every app's page (GET /) runs tests/support/web_app_page.js, which makes one call the way the app
does: the recorded fixture's request (tests/fixtures/), through the transport the page URL
names (`/?fixture=chatgpt/conversation_delta&transport=fetch`); with `hostile=1` the page
first runs tests/support/hostile_page.js, a script that tries to forge copies. The server answers with the
fixture's response in chunks (or plays its WebSocket session) and records what the browser
sent. Browsers reach it by name: Chromium through --host-resolver-rules, Firefox through
its network.dns.forceResolve and network.socket.forcePort preferences.
"""

from __future__ import annotations

import datetime
import json
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.fixture_files import Fixture, load_fixture
from tests.support.required import unavailable
from tests.support.upstream import FakeUpstream, Received, Scenario

PAGE_SCRIPT = Path(__file__).with_name("web_app_page.js")
HOSTILE_SCRIPT = Path(__file__).with_name("hostile_page.js")
FIXTURES = ("chatgpt/conversation_delta", "claude-web/completion", "microsoft-copilot/chat")
CHUNK_DELAY_S = 0.02  # the answer streams in pieces, as the apps' do


def require(executable: str) -> str:
    """The path of a program the test needs; skip without it, but fail in CI (CI=true)."""
    found = shutil.which(executable)
    if found is None:
        message = f"{executable} is not installed (apt-get install chromium firefox-esr libnss3-tools)"
        unavailable(message, f"{message}: the browser tests must run in CI")
    return found


@dataclass(frozen=True)
class ThrowawayCA:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path

    @classmethod
    def make(cls, directory: Path, hostnames: list[str]) -> ThrowawayCA:
        """A CA and one server certificate for `hostnames`, signed by it."""
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "offgate test CA")])
        ca = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in hostnames]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        paths = cls(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
        paths.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        paths.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths.key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        return paths

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_pem, self.key_pem)
        return context

    def trust_in_nss(self, database: Path) -> None:
        trust_in_nss(database, self.ca_pem, "offgate-test-ca")


def trust_in_nss(database: Path, ca_pem: Path, nickname: str) -> None:
    """Make an NSS database (Chromium: $HOME/.pki/nssdb; Firefox: the profile) trust a CA."""
    certutil = require("certutil")
    database.mkdir(parents=True, exist_ok=True)
    if not (database / "cert9.db").exists():
        subprocess.run([certutil, "-d", f"sql:{database}", "-N", "--empty-password"], check=True)
    subprocess.run([certutil, "-d", f"sql:{database}", "-A", "-t", "C,,", "-n", nickname, "-i", str(ca_pem)],
                   check=True)


def app_hostnames() -> list[str]:
    return sorted({load_fixture(name).host for name in FIXTURES})


class WebApps:
    """The fake apps, serving the fixtures in FIXTURES; `calls` is what the browser sent them."""

    def __init__(self, ca: ThrowawayCA, chunk_delay: float = CHUNK_DELAY_S) -> None:
        self._chunk_delay = chunk_delay
        self.fixtures: dict[str, Fixture] = {name: load_fixture(name) for name in FIXTURES}
        # By path alone: through the proxy's map_remote the Host header names the proxy's target.
        self._by_path = {f.path: f for f in self.fixtures.values()}
        self._server = FakeUpstream(ca.server_context())
        self._server.responder = self._respond

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> WebApps:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def calls(self) -> list[Received]:
        """What the browser sent to the apps' endpoints (pages, assets and favicons left out)."""
        return [r for r in self._server.received if r.path.partition("?")[0] in self._by_path]

    def page_url(self, fixture: str, transport: str, hostile: bool = False) -> str:
        return f"https://{self.fixtures[fixture].host}/?fixture={fixture}&transport={transport}" + (
            "&hostile=1" if hostile else "")

    def _respond(self, received: Received) -> Scenario:
        path, _, query = received.path.partition("?")
        if path == "/":
            hostile = b'<script src="/__test/hostile.js"></script>' if "hostile" in parse_qs(query) else b""
            html = b'<!doctype html><title>loading</title>' + hostile + b'<script src="/__test/page.js"></script>'
            return Scenario(headers={"content-type": "text/html; charset=utf-8"}, chunks=[html])
        if path in ("/__test/page.js", "/__test/hostile.js"):
            script = PAGE_SCRIPT if path == "/__test/page.js" else HOSTILE_SCRIPT
            return Scenario(headers={"content-type": "text/javascript"}, chunks=[script.read_bytes()])
        if path == "/__test/fixture":
            fixture = self.fixtures[parse_qs(query)["name"][0]]
            description = {
                "method": fixture.method, "path": fixture.path, "query": fixture.query,
                "request_body": fixture.request_body.decode(),
                "messages": [[m.from_client, m.content.decode()] for m in fixture.messages],
            }
            return Scenario(headers={"content-type": "application/json"}, chunks=[json.dumps(description).encode()])
        fixture = self._by_path.get(path)
        if fixture is None:
            return Scenario(status=404, chunks=[b"not found"])
        if fixture.websocket:
            return Scenario(messages=list(fixture.messages))
        body = fixture.response_body
        third = len(body) // 3 + 1
        return Scenario(status=fixture.status, headers=fixture.response_headers, streamed=True,
                        chunks=[body[i:i + third] for i in range(0, len(body), third)], chunk_delay=self._chunk_delay)
