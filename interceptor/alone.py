"""The proxy in a process of its own, loading only what recording needs (issue 17: it runs
all day on every workstation, and its memory is the first thing IT measures).

`offgate proxy` reads its options and settings with the command line's typer and rich,
then replaces its process (same pid) with `python -P -m interceptor` and the resolved
values, so the proxy never holds the command line. Where a process cannot be replaced
in place (Windows' exec starts a new one), the proxy runs in the command's own process.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from offgate.errors import OffgateError


def run_alone(home: Path, listen_host: str, listen_port: int, gateways: Sequence[str],
              set_options: Sequence[str]) -> None:
    """Run the proxy (until SIGINT or SIGTERM) in place of this process, where it can be replaced."""
    if os.name != "posix":
        from interceptor.runner import run_proxy  # here: the command line imports this module, not mitmproxy

        run_proxy(home, listen_host, listen_port, gateways, set_options)
        return
    argv = ["--home", str(home), "--listen-host", listen_host, "--listen-port", str(listen_port),
            *(arg for gateway in gateways for arg in ("--gateway", gateway)),
            *(arg for option in set_options for arg in ("--set", option))]
    sys.stdout.flush()
    sys.stderr.flush()
    # -P: the working directory is not put on sys.path, so nothing there shadows a room.
    os.execv(sys.executable, [sys.executable, "-P", "-m", "interceptor", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m interceptor`: options as `offgate proxy` resolved them (all given)."""
    parser = argparse.ArgumentParser(prog="python -m interceptor", allow_abbrev=False,
                                     description="The offgate proxy alone; `offgate proxy` runs it.")
    parser.add_argument("--home", type=Path, required=True, help="offgate's data directory")
    parser.add_argument("--listen-host", required=True)
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--gateway", action="append", default=[], help="a LiteLLM gateway base URL (repeatable)")
    parser.add_argument("--set", action="append", default=[], dest="set_options", metavar="OPTION=VALUE",
                        help="a mitmproxy option (repeatable)")
    args = parser.parse_args(argv)
    from interceptor.runner import run_proxy  # here: the command line imports this module, not mitmproxy

    try:
        run_proxy(args.home, args.listen_host, args.listen_port, args.gateway, args.set_options)
    except OffgateError as exc:
        print(f"offgate: error: {exc}", file=sys.stderr)  # as the command line says it
        return exc.exit_code
    return 0
