"""One error type: every error of offgate's own is an OffgateError whose exit code says what
to do (2: fix the input, 1: something failed at run time), and the command line ends every
command that raises one the same way: `offgate: error: ...` on stderr, that code, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.dashboard import DashboardError, ListenError
from analytics.spend.source import SpendInputError, SpendSourceError
from certs.trust import NeedsRoot, TrustError
from interceptor.runner import ProxyError
from native_host.install import InstallError
from offgate.cli import app
from offgate.config import ConfigError
from offgate.errors import EXIT_BAD_INPUT, EXIT_FAILED, OffgateError
from offgate.store import StoreError
from offgate.store.alerts import UnknownAlertError
from offgate.system_proxy import BadInput, NoDesktop, SystemProxyError

runner = CliRunner(env={"COLUMNS": "200"})
DOWN = "postgresql://offgate:secret@127.0.0.1:1/none"  # nothing listens on port 1: refused at once


@pytest.mark.parametrize(("error", "exit_code"), [
    (ConfigError, EXIT_BAD_INPUT), (UnknownAlertError, EXIT_BAD_INPUT), (BadInput, EXIT_BAD_INPUT),
    (NoDesktop, EXIT_BAD_INPUT), (SpendInputError, EXIT_BAD_INPUT), (ListenError, EXIT_BAD_INPUT),
    (ProxyError, EXIT_BAD_INPUT), (InstallError, EXIT_BAD_INPUT), (TrustError, EXIT_BAD_INPUT),
    (NeedsRoot, EXIT_BAD_INPUT),
    (StoreError, EXIT_FAILED), (SystemProxyError, EXIT_FAILED), (SpendSourceError, EXIT_FAILED),
    (DashboardError, EXIT_FAILED),
], ids=lambda value: value.__name__ if isinstance(value, type) else str(value))
def test_every_error_of_offgate_is_an_offgate_error_with_its_exit_code(error: type[OffgateError],
                                                                        exit_code: int) -> None:
    assert issubclass(error, OffgateError)
    assert error.exit_code == exit_code


@pytest.mark.parametrize("command", [
    ["events"], ["events", "import", "-"], ["report"], ["reconcile"], ["alerts"], ["alerts", "ack", "0000000000"],
    ["spend", "import", "--from", "spend.jsonl"],
], ids=" ".join)
def test_a_store_that_is_down_ends_every_command_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              command: list[str]) -> None:
    monkeypatch.setenv("OFFGATE_DATABASE_URL", DOWN)
    (tmp_path / "spend.jsonl").write_text("")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--home", str(tmp_path), *command], input="", catch_exceptions=False)
    assert result.exit_code == EXIT_FAILED
    assert result.stdout == ""
    assert result.stderr.startswith("offgate: error: cannot open PostgreSQL database "
                                    "postgresql://offgate:***@127.0.0.1:1/none: ")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["events"], ["report"], ["alerts"], ["status"]], ids=" ".join)
def test_a_config_that_cannot_be_read_is_bad_input_for_every_command(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "config.toml").write_text("[proxy\n", encoding="utf-8")
    result = runner.invoke(app, ["--home", str(tmp_path), *command], catch_exceptions=False)
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.startswith(f"offgate: error: {tmp_path / 'config.toml'}: not valid TOML: ")
