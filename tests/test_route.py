"""`offgate route TOOL`: print, --apply, then --undo puts every file back byte for byte."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offgate.cli import app

runner = CliRunner(env={"COLUMNS": "250"})
GATEWAY = "https://litellm.example.com"
BEFORE = {  # what a person may already have, odd bytes included (no newline at the end, CRLF)
    ".claude/settings.json": b'{\r\n  "model": "opus",\r\n  "env": {"DISABLE_TELEMETRY": "1"}\r\n}',
    ".codex/config.toml": b'model = "gpt-5"\nmodel_provider = "openai"\n\n[profiles.fast]\nmodel = "o4-mini"',
    ".gemini/.env": b"GEMINI_MODEL=gemini-2.5-pro",
    ".profile": b"# ~/.profile\nexport PATH=$HOME/bin:$PATH\n",
}
TOOLS = {"claude-code": ".claude/settings.json", "codex": ".codex/config.toml", "gemini-cli": ".gemini/.env",
         "openai-sdk": ".profile", "anthropic-sdk": ".profile"}


@pytest.fixture
def person(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "person"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def offgate(tmp_path: Path, *args: str):
    return runner.invoke(app, ["--home", str(tmp_path / "offgate"), "route", *args, "--gateway", GATEWAY,
                               "--user", "alice"])


@pytest.mark.parametrize("existed", [True, False], ids=["file-existed", "no-file"])
@pytest.mark.parametrize("tool", list(TOOLS))
def test_apply_then_undo_restores_the_file_exactly(tmp_path: Path, person: Path, tool: str, existed: bool) -> None:
    file = person / TOOLS[tool]
    if existed:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(BEFORE[TOOLS[tool]])
    printed = offgate(tmp_path, tool)
    assert printed.exit_code == 0, printed.output
    assert file.exists() == existed and (not existed or file.read_bytes() == BEFORE[TOOLS[tool]])  # nothing written
    assert GATEWAY in printed.stdout

    applied = offgate(tmp_path, tool, "--apply")
    assert applied.exit_code == 0, applied.output
    assert f"wrote {file}" in applied.stdout and "your LiteLLM key" in applied.stdout
    assert GATEWAY in file.read_text()
    again = offgate(tmp_path, tool, "--apply")
    assert again.exit_code != 0 and "is already routed" in again.stderr

    undone = offgate(tmp_path, tool, "--undo")
    assert undone.exit_code == 0, undone.output
    if existed:
        assert file.read_bytes() == BEFORE[TOOLS[tool]]
    else:
        assert not file.exists()


def test_what_each_tool_is_told(tmp_path: Path, person: Path) -> None:
    for tool, relative in TOOLS.items():
        if tool == "anthropic-sdk":
            continue  # shares .profile with openai-sdk: shown below on its own
        (person / relative).parent.mkdir(parents=True, exist_ok=True)
        (person / relative).write_bytes(BEFORE[relative])
        assert offgate(tmp_path, tool, "--apply").exit_code == 0
    claude = json.loads((person / ".claude/settings.json").read_text())
    assert claude["model"] == "opus" and claude["env"] == {
        "DISABLE_TELEMETRY": "1", "ANTHROPIC_BASE_URL": GATEWAY,
        "ANTHROPIC_CUSTOM_HEADERS": "x-litellm-customer-id: alice"}
    codex = tomllib.loads((person / ".codex/config.toml").read_text())
    assert codex["model"] == "gpt-5" and codex["model_provider"] == "offgate-gateway"
    assert codex["profiles"] == {"fast": {"model": "o4-mini"}}
    assert codex["model_providers"]["offgate-gateway"] == {
        "name": "the company's LiteLLM gateway (offgate route)", "base_url": f"{GATEWAY}/v1",
        "env_key": "LITELLM_API_KEY", "http_headers": {"x-litellm-customer-id": "alice"}}
    assert (person / ".gemini/.env").read_text().endswith(f'GOOGLE_GEMINI_BASE_URL="{GATEWAY}"\n')
    assert (person / ".profile").read_text().endswith(f'export OPENAI_BASE_URL="{GATEWAY}/v1"\n')


def test_undo_refuses_a_file_changed_since_and_bad_input_is_clear(tmp_path: Path, person: Path) -> None:
    assert offgate(tmp_path, "gemini-cli", "--apply").exit_code == 0
    env = person / ".gemini/.env"
    env.write_text(env.read_text() + "MINE=1\n")
    refused = offgate(tmp_path, "gemini-cli", "--undo")
    assert refused.exit_code != 0 and f"{env} changed since offgate wrote it" in refused.stderr
    assert env.read_text().endswith("MINE=1\n")  # nothing lost
    unknown = offgate(tmp_path, "cursor")
    assert unknown.exit_code != 0 and "no tool 'cursor'" in unknown.stderr
    (person / ".claude").mkdir()
    (person / ".claude/settings.json").write_text("{not json")
    broken = offgate(tmp_path, "claude-code", "--apply")
    assert broken.exit_code != 0 and "not valid JSON" in broken.stderr
    assert (person / ".claude/settings.json").read_text() == "{not json"
