"""The house plan's arrows hold: `lint-imports` keeps every contract in pyproject.toml's
[tool.importlinter], and each contract really catches the import it forbids, shown on a
throw-away copy of the rooms with one bad import added (a lazy one counts too). And what
import-linter cannot tell apart: the command line imports the rooms only inside its commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.required import unavailable

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = [contract["name"] for contract in CONFIG["contracts"]]
ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on `project`'s rooms and pyproject.toml, its output without colours."""
    executable = Path(sys.executable).parent / "lint-imports"
    if not executable.exists():
        unavailable("lint-imports is not installed (uv sync installs the dev group)",
                    "lint-imports is missing: .ci/run installs the dev group with uv sync")
    # The project's own rooms are installed editable; the copy's must shadow them.
    environment = {**os.environ, "PYTHONPATH": str(project)}
    linted = subprocess.run([str(executable), "--no-cache"], cwd=project, env=environment,
                            capture_output=True, text=True, timeout=300)
    linted.stdout = ANSI_STYLE.sub("", linted.stdout)
    return linted


def verdicts(output: str) -> dict[str, str]:
    """{contract name: "KEPT" or "BROKEN"} as lint-imports printed them."""
    return {name: verdict for name in CONTRACTS
            for verdict in re.findall(rf"^{re.escape(name)} (KEPT|BROKEN)$", output, re.MULTILINE)}


def test_the_rooms_keep_every_import_contract():
    linted = lint_imports(PROJECT)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert verdicts(linted.stdout) == dict.fromkeys(CONTRACTS, "KEPT")
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in linted.stdout


@pytest.fixture
def rooms(tmp_path: Path) -> Path:
    """A copy of the rooms and pyproject.toml, to break."""
    for room in CONFIG["root_packages"]:
        shutil.copytree(PROJECT / room, tmp_path / room, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path)
    return tmp_path


def add_lazy_import(module: Path, statement: str) -> None:
    """Append a function that makes the import only when called, as the command line does."""
    with module.open("a") as file:
        file.write(f"\n\ndef _added_by_test_layers():\n    {statement}\n")


# (module that gains the import, the import, the contract it breaks, how lint-imports names the culprit)
VIOLATIONS = [
    # A core module only analytics and the command line reach: one reached by another outer room too
    # (the store) would also break the rooms' independence, through it.
    ("offgate/pac.py", "import analytics.reconcile", CONTRACTS[0], "offgate.pac -> analytics.reconcile (l."),
    ("analytics/report/model.py", "import offgate.cli.common", CONTRACTS[1],
     "analytics.report.model -> offgate.cli.common (l."),
    ("native_host/host.py", "import interceptor.addon", CONTRACTS[2], "native_host.host -> interceptor.addon (l."),
    ("certs/trust.py", "import analytics.reconcile", CONTRACTS[2], "certs.trust -> analytics.reconcile (l."),
    # offgate.tokens is reached by the proxy and the native host: litellm through it is caught.
    ("offgate/tokens.py", "import litellm", CONTRACTS[3], "offgate.tokens -> litellm (l."),
    ("interceptor/recorder.py", "import opentelemetry", CONTRACTS[4], "interceptor.recorder -> opentelemetry (l."),
    ("analytics/spend/source.py", "import analytics.spend.importing", CONTRACTS[5], "- .source -> .importing"),
    ("offgate/system_proxy/state.py", "import fleet.outbox", CONTRACTS[0],
     "offgate.system_proxy.state -> fleet.outbox (l."),
    ("fleet/pusher.py", "import native_host.host", CONTRACTS[2], "fleet.pusher -> native_host.host (l."),
    ("fleet/collector.py", "import litellm", CONTRACTS[3], "fleet.collector -> litellm (l."),
]


@pytest.mark.parametrize(("module", "statement", "broken", "culprit"), VIOLATIONS,
                         ids=[f"{module}: {statement}" for module, statement, *_ in VIOLATIONS])
def test_one_bad_import_breaks_its_contract_and_fails_the_check(rooms: Path, module: str, statement: str,
                                                                 broken: str, culprit: str):
    add_lazy_import(rooms / module, statement)
    linted = lint_imports(rooms)
    assert linted.returncode == 1, linted.stdout + linted.stderr
    assert verdicts(linted.stdout) == {name: "BROKEN" if name == broken else "KEPT" for name in CONTRACTS}
    assert culprit in linted.stdout


def rooms_loaded_by_the_command_line(project: Path) -> list[str]:
    """The outer rooms, litellm and mitmproxy as far as `import offgate.cli` from `project` loads them."""
    script = "import json, sys, offgate.cli\nprint(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    loaded = subprocess.run([sys.executable, "-c", script], cwd=project, env={**os.environ, "PYTHONPATH": str(project)},
                            capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    heavy = {*CONFIG["root_packages"], "litellm", "mitmproxy"} - {"offgate"}
    return [name for name in json.loads(loaded.stdout) if name in heavy]


def test_the_command_line_imports_the_rooms_only_inside_its_commands():
    """What import-linter cannot tell: `offgate events` never pays for mitmproxy, litellm or the rooms."""
    assert rooms_loaded_by_the_command_line(PROJECT) == []


def test_a_room_imported_at_the_top_of_a_command_module_is_seen(rooms: Path):
    analysis = rooms / "offgate" / "cli" / "analysis.py"
    source = analysis.read_text()
    assert "\nimport typer\n" in source
    analysis.write_text(source.replace("\nimport typer\n", "\nimport typer\n\nimport analytics.reconcile\n", 1))
    assert rooms_loaded_by_the_command_line(rooms) == ["analytics"]
