"""Runs mitmproxy with the offgate addon: the engine behind `offgate proxy`.

`build_master` is also what the end-to-end tests start in-process, so they run the
same proxy users run.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from mitmproxy import exceptions, options
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.tools.dump import DumpMaster

from interceptor.addon import offgate_addons
from interceptor.ca import ca_dir, ensure_ca
from interceptor.hook_table import HookTable
from offgate.errors import BadInputError
from offgate.stopping import on_stop_signals


class ProxyError(BadInputError):
    """The proxy cannot start as asked (its port, its options); the message says why."""


def check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ProxyError(f"port {port} on {host} is already in use; "
                                 "choose another with --listen-port") from exc
            raise ProxyError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def build_master(home: Path, listen_host: str, listen_port: int, gateways: Sequence[str] = (),
                 set_options: Sequence[str] = (), with_termlog: bool = True) -> DumpMaster:
    """A mitmproxy master with offgate's addons loaded. Call inside a running event loop.
    `gateways`: none takes proxy.gateways from the home's config.toml, as the addon script does."""
    ensure_ca(home)
    opts = options.Options(listen_host=listen_host, listen_port=listen_port,
                           confdir=str(ca_dir(home)))
    master = DumpMaster(opts, with_termlog=with_termlog, with_dumper=False)
    HookTable(master.addons).install()
    master.addons.add(*offgate_addons())
    try:
        opts.update(offgate_home=str(home), offgate_gateways=list(gateways))
        if set_options:
            opts.set(*set_options)
    except exceptions.OptionsError as exc:
        raise ProxyError(str(exc)) from exc
    return master


async def serve_until_signalled(master: DumpMaster) -> None:
    """Run the master until SIGINT or SIGTERM shuts it down."""
    on_stop_signals(asyncio.get_running_loop(), master.shutdown)
    await master.run()


def run_proxy(home: Path, listen_host: str, listen_port: int, gateways: Sequence[str] = (),
              set_options: Sequence[str] = ()) -> None:
    """Serve until SIGINT or SIGTERM; every recorded call is flushed before returning."""
    check_port_free(listen_host, listen_port)
    ca = ensure_ca(home)
    print(f"offgate proxy on http://{listen_host}:{listen_port}  (CA: {ca})  data: {home}", file=sys.stderr)
    # mitmproxy's terminal log shows what reaches the root logger, at termlog_verbosity
    # (info by default): let offgate's own lines through (what the writer stored, at the end).
    logging.getLogger("offgate").setLevel(logging.INFO)

    async def main() -> None:
        master = build_master(home, listen_host, listen_port, gateways, set_options)
        await serve_until_signalled(master)

    asyncio.run(main())


class BackgroundProxy:
    """The proxy on its own event loop in a thread, for a caller that goes on meanwhile
    (`offgate demo`, the end-to-end tests). mitmproxy allows one master per process at a time."""

    def __init__(self, home: Path, gateways: Sequence[str] = (), set_options: Sequence[str] = (),
                 listen_port: int = 0) -> None:
        self.home = home
        self.gateways = gateways
        self.set_options = set_options
        self.port = listen_port
        self.master: DumpMaster | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return ca_dir(self.home) / "mitmproxy-ca-cert.pem"

    def start(self) -> BackgroundProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        self.master = build_master(self.home, "127.0.0.1", self.port, self.gateways,
                                   ["connection_strategy=lazy", *self.set_options], with_termlog=False)
        self._task = asyncio.ensure_future(self.master.run())
        server = self.master.addons.get("proxyserver")
        if not isinstance(server, Proxyserver):
            raise ProxyError("mitmproxy's proxyserver addon is missing")
        for _ in range(500):
            addrs = server.listen_addrs()
            if addrs:
                self.port = addrs[0][1]
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise ProxyError("the proxy did not start listening")

    def stop(self) -> None:
        """Shut down like SIGTERM does: mitmproxy's done hook flushes the writer."""
        if self.master is not None:
            self.master.shutdown()
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(self._task), 30), self._loop).result(35)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
