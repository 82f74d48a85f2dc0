"""Command-line tools the end-to-end tests install from the npm registry (npm's own cache
keeps later runs offline), each pinned; node and npm come from Debian (`apt-get install
nodejs npm`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.required import unavailable


def npm_tool(prefix: Path, package: str, command: str) -> str:
    """The path of `command` from `package` ("name@version"), installed into `prefix`."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        unavailable("node and npm are not installed",
                    f"the test of {package} needs node and npm: apt-get install nodejs npm")
    installed = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), package],
                               capture_output=True, text=True, timeout=600)
    if installed.returncode != 0:
        unavailable(f"npm could not install {package}: {installed.stderr[-500:]}",
                    f"npm could not install {package} from the registry: {installed.stderr[-500:]}")
    return str(prefix / "node_modules" / ".bin" / command)
