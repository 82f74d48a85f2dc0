"""The installed offgate: the wheel adds no top-level name but its rooms, serves the browser
extension from inside native_host, and refuses to run when another package took a room's name
(Segment's analytics-python is `import analytics` too)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from offgate.installation import ROOMS

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
# A package of another project with a room's name, as Segment's analytics-python has.
FOREIGN_ANALYTICS = 'VERSION = "2.3.2"\nwrite_key = None\n'


def test_the_rooms_checked_are_the_packages_the_wheel_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]) == {"offgate", *ROOMS}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new environment holding the wheel alone; the locked dependencies are borrowed from
    the test's own environment (a .pth line), so nothing is downloaded."""
    place = tmp_path_factory.mktemp("installed")
    built = subprocess.run(["uv", "build", "--wheel", "--offline", "-q", "-o", str(place / "dist")],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next((place / "dist").glob("offgate-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"offgate", *ROOMS}
    venv = place / "venv"
    subprocess.run(["uv", "venv", "--no-project", "-q", str(venv), "--python", sys.executable],
                   cwd=ROOT, check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(["uv", "pip", "install", "-q", "--offline", "--no-deps", "--python", str(python), str(wheel)],
                   cwd=ROOT, check=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "zz_locked_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def offgate(venv: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(venv), "OFFGATE_HOME": str(venv / "home"), "COLUMNS": "1000"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([str(venv / "bin" / "offgate"), *args], cwd=venv, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_installed_extension_is_served_from_inside_native_host(installed: Path) -> None:
    done = offgate(installed, "extension", "path")
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    assert folder.parent.name == "native_host" and folder.name == "browser_extension"
    assert str(folder).startswith(str(installed))
    assert (folder / "manifest.json").is_file() and (folder / "generated" / "targets.js").is_file()


def test_a_package_shadowing_a_room_stops_offgate_with_what_to_do(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "analytics").mkdir()
    (tmp_path / "analytics" / "__init__.py").write_text(FOREIGN_ANALYTICS)
    done = offgate(installed, "status", pythonpath=tmp_path)
    assert done.returncode == 1
    assert f"'analytics' is imported from {tmp_path / 'analytics'}, not offgate's own" in done.stderr
    assert "Install offgate in an environment of its own: `uv tool install offgate`" in done.stderr


def test_a_package_written_over_a_room_stops_offgate(installed: Path) -> None:
    site = Path(next(installed.glob("lib/python3*/site-packages")))
    room = site / "analytics" / "__init__.py"
    original = room.read_text()
    room.write_text(FOREIGN_ANALYTICS)
    try:
        done = offgate(installed, "status")
    finally:
        room.write_text(original)
    assert done.returncode == 1
    assert f"{room} is not offgate's 'analytics': another package wrote over it" in done.stderr
    assert offgate(installed, "status").returncode == 0
