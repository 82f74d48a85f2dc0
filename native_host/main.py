"""Start the host: who is calling, where to log, then answer until the browser hangs up.

The browser runs the launcher with its own arguments after ours: Chromium passes the
caller's origin (`chrome-extension://<id>/`, plus `--parent-window=N` on Windows),
Firefox the host manifest's path and the extension's id. A caller not among the ids the
host was installed for (`--allow`, written into the launcher) gets one error and nothing
else. stdout carries only frames: anything printed goes to stderr, the log to
`<home>/native-host.log`.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import sys
import types
from pathlib import Path

from native_host.extension import chromium_id, chromium_origin, gecko_id
from native_host.framing import FrameWriter
from native_host.host import Host, encode, error_reply

LOG_FILE = "native-host.log"
LOG_BYTES = 1024 * 1024
EXIT_REFUSED = 2
log = logging.getLogger("offgate.native_host")


def main(argv: list[str] | None = None) -> int:
    _without_pydantic_plugins()
    args, browser_args = _parser().parse_known_args(argv)
    home = _home(args.home)
    _log_to(home)
    channel = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt a frame
    caller = calling_extension(browser_args)
    allowed = args.allow or default_allowed()
    if caller not in allowed:
        log.error("refused caller %r (allowed: %s)", caller, ", ".join(allowed))
        message = f"caller {caller!r} is not an extension this host was installed for"
        FrameWriter(channel).write(encode(error_reply("origin_not_allowed", message)))
        return EXIT_REFUSED
    host = Host(home)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: host.stop())  # the browser ends the host so: drain first
    log.info("started for %s", caller)
    return host.serve(sys.stdin.buffer, channel)


def _without_pydantic_plugins() -> None:
    """The host uses no pydantic plugins. Looking for them, the first model pydantic builds would
    read the entry points of every installed distribution; its documented switch stops that, but
    its plugin loader still imports importlib.metadata (email, zipfile, csv: tens of ms before the
    first acknowledgement). So, in this process only: the switch, and a loader that finds none
    (private to pydantic: a release that wants more of it fails every host test at its first model)."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    loader = types.ModuleType("pydantic.plugin._loader", "No plugins: the native host uses none.")
    vars(loader).update(get_plugins=lambda: ())  # what pydantic's own loader answers with the switch on
    sys.modules.setdefault(loader.__name__, loader)


def calling_extension(browser_args: list[str]) -> str | None:
    """The caller's origin (Chromium) or extension id (Firefox), or None if neither says."""
    for arg in browser_args:
        if arg.startswith("chrome-extension://"):
            return arg.rstrip("/") + "/"
    positional = [arg for arg in browser_args if not arg.startswith("-")]
    return positional[1] if len(positional) == 2 else None


def default_allowed() -> list[str]:
    """The repository's own extension, in Chromium and Firefox."""
    return [chromium_origin(chromium_id()), gecko_id()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="offgate native-host", description=__doc__, allow_abbrev=False)
    parser.add_argument("--home", type=Path, help="offgate's data directory (the launcher always names it)")
    parser.add_argument("--allow", action="append", metavar="ORIGIN_OR_ID",
                        help="an extension allowed to call: chrome-extension://<id>/ or a Gecko id (repeatable)")
    return parser


def _home(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit.expanduser().absolute()
    from offgate.config import resolve_home  # slow (pydantic): only when run by hand

    return resolve_home(None)


def _log_to(home: Path) -> None:
    try:
        # As resolve_home would make it; that module is too slow to load before the first reply.
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            home / LOG_FILE, maxBytes=LOG_BYTES, backupCount=2, encoding="utf-8")
    except OSError:
        handler = logging.StreamHandler(sys.stderr)  # the browser keeps a host's stderr in its own log
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)

