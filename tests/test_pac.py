"""The PAC file, evaluated where it runs: Chromium's JavaScript engine calls FindProxyForURL
for the catalog's hosts (PROXY) and for everything else (DIRECT), and Chromium started with
--proxy-pac-url sends a catalog host to a proxy on loopback while other pages load directly."""

from __future__ import annotations

import shutil
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import Result
from playwright.sync_api import Browser, Page, sync_playwright
from typer.testing import CliRunner

from offgate.catalog import DEFAULT_CATALOG, PROVIDERS
from offgate.cli import app
from offgate.demo.threaded_server import ThreadedServer
from offgate.pac import local_address, render_pac
from tests.support.required import unavailable

PROXY = "PROXY 127.0.0.1:8080; DIRECT"
EXACT_HOSTS = sorted(host for provider in PROVIDERS for host in provider.hosts if "*" not in host and ":" not in host)
SUBDOMAINS_OF = sorted(host[2:] for provider in PROVIDERS for host in provider.hosts if host.startswith("*."))
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        message = "chromium is not installed (apt-get install chromium)"
        unavailable(message, f"{message}: the PAC tests must run in CI")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    yield page
    page.close()


def find_proxy(page: Page, pac: str, requests: list[tuple[str, str]]) -> list[str]:
    """FindProxyForURL(url, host) of the PAC file `pac`, for each (url, host), in Chromium's V8."""
    return page.evaluate("""([source, requests]) => {
        const findProxyForURL = new Function(source + "\\nreturn FindProxyForURL;")();
        return requests.map(([url, host]) => findProxyForURL(url, host));
    }""", [pac, requests])


def https(host: str) -> tuple[str, str]:
    return f"https://{host}/", host


@pytest.mark.browser
def test_every_catalog_host_goes_to_the_proxy(page: Page) -> None:
    assert len(EXACT_HOSTS) > 150
    answers = find_proxy(page, render_pac("127.0.0.1:8080"), [https(host) for host in EXACT_HOSTS])
    assert dict(zip(EXACT_HOSTS, answers, strict=True)) == dict.fromkeys(EXACT_HOSTS, PROXY)


@pytest.mark.browser
def test_subdomains_of_wildcard_entries_go_to_the_proxy_but_not_the_bare_domain(page: Page) -> None:
    assert "openai.azure.com" in SUBDOMAINS_OF
    requests = [https(f"my-resource.{name}") for name in SUBDOMAINS_OF]
    requests += [https(f"a.b.{name}") for name in SUBDOMAINS_OF]
    assert set(find_proxy(page, render_pac("127.0.0.1:8080"), requests)) == {PROXY}
    # As in the interceptor's catalog, "*.name" is every subdomain of name, not name itself.
    assert set(find_proxy(page, render_pac("127.0.0.1:8080"), [https(name) for name in SUBDOMAINS_OF])) == {"DIRECT"}


@pytest.mark.parametrize(("url", "host", "expected"), [
    ("http://localhost:11434/api/chat", "localhost", PROXY),
    ("http://127.0.0.1:1234/v1/chat/completions", "127.0.0.1", PROXY),
    ("http://user:secret@localhost:11434/api/chat", "localhost", PROXY),
    ("http://localhost:8000/", "localhost", "DIRECT"),
    ("http://localhost/", "localhost", "DIRECT"),
    ("https://127.0.0.1/", "127.0.0.1", "DIRECT"),
    ("https://API.OpenAI.com/v1/chat/completions", "API.OpenAI.com", PROXY),
    ("https://api.openai.com./v1/chat/completions", "api.openai.com.", PROXY),
    ("https://My-Resource.OpenAI.Azure.com./openai", "My-Resource.OpenAI.Azure.com.", PROXY),
    ("wss://api.openai.com/v1/realtime", "api.openai.com", PROXY),
    ("https://example.com/", "example.com", "DIRECT"),
    ("https://api.openai.com.evil.test/", "api.openai.com.evil.test", "DIRECT"),
    ("https://notopenai.com/", "notopenai.com", "DIRECT"),
    ("https://api.openai.co/", "api.openai.co", "DIRECT"),
    ("https://myopenai.azure.com/", "myopenai.azure.com", "DIRECT"),
    ("https://openai.azure.com.evil.test/", "openai.azure.com.evil.test", "DIRECT"),
    ("http://constructor/", "constructor", "DIRECT"),  # names every JS object has: never a catalog host
    ("http://__proto__/", "__proto__", "DIRECT"),
    ("http://x.constructor/", "x.constructor", "DIRECT"),
])
@pytest.mark.browser
def test_what_goes_to_the_proxy(page: Page, url: str, host: str, expected: str) -> None:
    assert find_proxy(page, render_pac("127.0.0.1:8080"), [(url, host)]) == [expected]


@pytest.mark.browser
def test_the_pac_file_agrees_with_the_interceptors_catalog(page: Page) -> None:
    """Every catalog name, its parents and look-alikes: PROXY exactly when the catalog knows the host."""
    names = {*EXACT_HOSTS, *(f"x.{name}" for name in SUBDOMAINS_OF), *SUBDOMAINS_OF}
    names |= {name.split(".", 1)[1] for name in set(names) if "." in name}
    names |= {f"{name}.evil.test" for name in set(names)} | {f"x{name}" for name in set(names)}
    hosts = sorted(names)
    answers = find_proxy(page, render_pac("127.0.0.1:8080"), [https(host) for host in hosts])
    expected = [PROXY if DEFAULT_CATALOG.provider_for_host(host) else "DIRECT" for host in hosts]
    assert dict(zip(hosts, answers, strict=True)) == dict(zip(hosts, expected, strict=True))
    assert answers.count(PROXY) >= len(EXACT_HOSTS) + len(SUBDOMAINS_OF)


@pytest.mark.browser
def test_gateways_go_to_the_proxy_on_their_port_only(page: Page) -> None:
    pac = render_pac("127.0.0.1:8080", ["https://litellm.corp.example:4000/", "http://gateway.corp.example"])
    assert find_proxy(page, pac, [
        ("https://litellm.corp.example:4000/v1/chat/completions", "litellm.corp.example"),
        ("http://gateway.corp.example/v1/chat/completions", "gateway.corp.example"),
        ("ws://gateway.corp.example/v1/realtime", "gateway.corp.example"),
        ("https://litellm.corp.example/", "litellm.corp.example"),
        ("https://gateway.corp.example/", "gateway.corp.example"),
        ("https://api.openai.com/", "api.openai.com"),
    ]) == [PROXY, PROXY, PROXY, "DIRECT", "DIRECT", PROXY]


@pytest.mark.browser
def test_an_ipv6_proxy_address(page: Page) -> None:
    assert find_proxy(page, render_pac("[::1]:8080"), [https("api.anthropic.com")]) == ["PROXY [::1]:8080; DIRECT"]


@pytest.mark.parametrize("address", ["", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000",
                                     "127.0.0.1:80a", "my host:8080", 'x"; alert(1); "x:80', "a;DIRECT:80"])
def test_a_bad_proxy_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match=r"must be HOST:PORT, e\.g\. 127\.0\.0\.1:8080"):
        render_pac(address)


def test_a_bad_gateway_url_is_refused() -> None:
    with pytest.raises(ValueError, match="gateway URL 'ftp://gw.example' must be http:// or https://"):
        render_pac("127.0.0.1:8080", ["ftp://gw.example"])


def test_wildcard_listen_addresses_are_reached_on_loopback() -> None:
    assert local_address("0.0.0.0", 8080) == "127.0.0.1:8080"
    assert local_address("::", 8080) == "[::1]:8080"
    assert local_address("192.0.2.7", 3128) == "192.0.2.7:3128"
    assert local_address("fe80::1", 3128) == "[fe80::1]:3128"


# `offgate pac` ------------------------------------------------------------------------------


def offgate_pac(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, ["--home", str(tmp_path), "pac", *args], env=env, catch_exceptions=False)


def test_offgate_pac_prints_the_file_for_the_configured_proxy(tmp_path: Path) -> None:
    result = offgate_pac(tmp_path, env={"OFFGATE_PROXY__LISTEN_HOST": "0.0.0.0", "OFFGATE_PROXY__LISTEN_PORT": "9000",
                                        "OFFGATE_PROXY__GATEWAYS": '["https://litellm.corp.example"]'})
    assert result.exit_code == 0, result.output
    assert result.stdout == render_pac("127.0.0.1:9000", ["https://litellm.corp.example"])
    assert 'var OFFGATE_PROXY = "PROXY 127.0.0.1:9000; DIRECT";' in result.stdout
    assert '"litellm.corp.example": {\n  "443": 1\n }' in result.stdout


def test_offgate_pac_takes_the_proxy_address_from_the_command_line(tmp_path: Path) -> None:
    result = offgate_pac(tmp_path, "--proxy", "10.1.2.3:3128")
    assert result.exit_code == 0
    assert result.stdout == render_pac("10.1.2.3:3128")


def test_offgate_pac_with_a_bad_address_or_gateway_says_so(tmp_path: Path) -> None:
    bad_address = offgate_pac(tmp_path, "--proxy", "proxy.corp.example")
    assert bad_address.exit_code == 2
    assert " ".join(bad_address.output.split()) == (
        "offgate: error: --proxy: proxy address 'proxy.corp.example' must be HOST:PORT, e.g. 127.0.0.1:8080")
    bad_gateway = offgate_pac(tmp_path, env={"OFFGATE_PROXY__GATEWAYS": '["litellm.corp.example"]'})
    assert bad_gateway.exit_code == 2
    assert "gateway URL 'litellm.corp.example' must be http:// or https://" in " ".join(bad_gateway.output.split())


# Chromium configured with the PAC URL -------------------------------------------------------


class RecordingProxy(socketserver.ThreadingTCPServer):
    """A stand-in for the interceptor on loopback: it records each request line; a GET gets
    an answer of its own, a CONNECT is refused (no TLS here)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.requests: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(socketserver.StreamRequestHandler):
    server: RecordingProxy

    def handle(self) -> None:
        request_line = self.rfile.readline().decode("latin-1").strip()
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        self.server.requests.append(request_line)
        if request_line.startswith("CONNECT "):
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        body = b"answered by the proxy"
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nAccess-Control-Allow-Origin: *\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    server = RecordingProxy()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def web_server(proxy: RecordingProxy) -> Iterator[int]:
    """Serves the PAC file (as the dashboard does) and a page standing in for any other site."""
    pac = render_pac(proxy.address)

    async def pac_file(_: web.Request) -> web.Response:
        return web.Response(text=pac, content_type="application/x-ns-proxy-autoconfig")

    async def site(_: web.Request) -> web.Response:
        return web.Response(text="served directly", headers={"Access-Control-Allow-Origin": "*"})

    app = web.Application()
    app.router.add_get("/proxy.pac", pac_file)
    app.router.add_get("/", site)
    server = ThreadedServer()
    yield server.serve(app)
    server.stop()


@pytest.mark.browser
def test_chromium_with_the_pac_url_sends_only_catalog_hosts_to_the_proxy(
        browser: Browser, proxy: RecordingProxy, web_server: int) -> None:
    chromium = browser.browser_type
    configured = chromium.launch(
        executable_path=shutil.which("chromium"), headless=True,
        args=[f"--proxy-pac-url=http://127.0.0.1:{web_server}/proxy.pac",
              # Two sites on the local server; no other name resolves, so nothing leaves the machine.
              f"--host-resolver-rules=MAP www.example.test 127.0.0.1:{web_server}, "
              f"MAP notopenai.test 127.0.0.1:{web_server}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
    try:
        page = configured.new_page()
        page.goto("http://www.example.test/")
        assert page.inner_text("body") == "served directly"
        calls = page.evaluate("""async () => {
            const call = async (url) => {
                try { return await (await fetch(url)).text(); } catch (error) { return "failed"; }
            };
            return [await call("http://notopenai.test/"), await call("http://api.together.xyz/v1/models"),
                    await call("https://api.openai.com/v1/models")];
        }""")
    finally:
        configured.close()
    # The other sites never touched the proxy; the LLM hosts did (TLS is tunnelled: a CONNECT).
    assert calls == ["served directly", "answered by the proxy", "failed"]
    assert "GET http://api.together.xyz/v1/models HTTP/1.1" in proxy.requests
    assert "CONNECT api.openai.com:443 HTTP/1.1" in proxy.requests
    assert not [line for line in proxy.requests if "example.test" in line or "notopenai" in line]
