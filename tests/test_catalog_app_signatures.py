"""The catalog's app signatures: one entry per app, and no name claimed by two apps (a lookup
table would silently keep only the last)."""

from __future__ import annotations

from collections import Counter

import pytest

from offgate.catalog.app_signatures import (
    APP_SIGNATURES,
    AppSignature,
    app_for_command,
    app_for_extension,
    app_for_package,
    app_for_process,
    app_for_uninstall_name,
)

FIELDS = ("processes", "commands", "packages", "ide_extensions", "jetbrains_plugins", "desktop_entries",
          "macos_bundles")


@pytest.mark.parametrize("field", FIELDS)
def test_no_name_belongs_to_two_apps(field: str) -> None:
    names = Counter(name.lower() if field in ("ide_extensions", "desktop_entries") else name
                    for app in APP_SIGNATURES for name in getattr(app, field))
    assert [name for name, apps in names.items() if apps > 1] == []


def test_one_entry_per_app() -> None:
    assert len({app.name for app in APP_SIGNATURES}) == len(APP_SIGNATURES)


def name(app: AppSignature | None) -> str | None:
    return app.name if app else None


def test_lookups() -> None:
    assert name(app_for_process("Claude.exe")) == "claude-desktop"
    assert name(app_for_process("claude")) == "claude-code"
    assert name(app_for_extension("GitHub.Copilot-Chat")) == "github-copilot"
    assert name(app_for_package("@openai/codex@0.46.0")) == "codex-cli"
    assert name(app_for_package("aider-chat==0.86.1")) == "aider"
    assert name(app_for_command(("gh", "copilot", "explain"))) == "copilot-cli"
    assert app_for_command(("gh", "pr", "list")) is None
    assert app_for_uninstall_name("Claude Code") is None
    assert name(app_for_uninstall_name("LM Studio 0.3.5")) == "lm-studio"
