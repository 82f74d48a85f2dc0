"""A fresh machine installs offgate without building anything from source (no compiler, no C
headers), so `uv run offgate up` works with only Python and uv there. Checked twice: over the
lock, every package the default groups install on this platform has a wheel for it; and
`uv sync --no-build` really installs them into a throw-away environment, from uv's cache."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

from tests.support.required import unavailable

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parent.parent


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in UV
    if found is None:
        unavailable("uv is not installed (pip install uv)", "uv is missing: .ci/run installs it")
    return found


def packages_installed_here() -> list[dict[str, Any]]:
    """The lock's packages that the default groups install on this platform (the project aside),
    as `uv export` resolves them, each with its wheels."""
    exported = subprocess.run([uv(), "export", "--locked", "--offline", "--quiet", "--format", "pylock.toml",
                               "--no-emit-project"], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    packages = tomllib.loads(exported.stdout)["packages"]
    return [package for package in packages if "marker" not in package or Marker(package["marker"]).evaluate()]


def has_a_wheel_for_this_platform(package: dict[str, Any]) -> bool:
    supported = set(sys_tags())
    return any(supported & parse_wheel_filename(wheel["url"].rsplit("/", 1)[-1])[3]
               for wheel in package.get("wheels", []))


def test_every_package_the_default_groups_install_has_a_wheel_for_this_platform():
    packages = packages_installed_here()
    assert len(packages) > 100  # litellm, mitmproxy, pytest, playwright and theirs: the export was read
    assert [f"{package['name']} {package['version']}" for package in packages
            if not has_a_wheel_for_this_platform(package)] == []


def test_uv_sync_without_building_installs_the_default_groups_into_a_throwaway_environment(tmp_path: Path):
    environment = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    environment["UV_PROJECT_ENVIRONMENT"] = str(tmp_path / "venv")
    # Offline: the packages come from uv's cache, which syncing this project's own environment filled.
    synced = subprocess.run([uv(), "sync", "--locked", "--no-build", "--no-install-project", "--offline"],
                            cwd=PROJECT, env=environment, capture_output=True, text=True, timeout=600)
    assert synced.returncode == 0, synced.stderr
    installed = re.search(r"^Installed (\d+) packages? in", synced.stderr, re.MULTILINE)
    assert installed is not None, synced.stderr
    assert int(installed[1]) == len(packages_installed_here())
