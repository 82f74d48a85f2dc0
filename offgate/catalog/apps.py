"""Which tool made a call, when the request says so in its headers.

Many tools share one API host (Claude Code and a script both call api.anthropic.com);
their User-Agent tells them apart. Rules are checked in order; the first match names the app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# (User-Agent pattern, app name). Sources: each tool's own client code / captured headers,
# see ../shared/reference/llm-wire-formats.md, section C.
USER_AGENT_APPS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), app)
    for pattern, app in (
        # Claude Code: "claude-cli/<version> (external, cli|sdk-ts|...)", to Anthropic's API
        # or through Bedrock and Vertex.
        (r"^claude-cli/", "claude-code"),
        # Codex sends "<originator>/<version> (<os>; <arch>) <terminal>" (codex-rs
        # get_codex_user_agent); the editor extension and the desktop app are named apart
        # from the CLI's originators (codex_cli_rs, codex_exec, codex-tui, codex_sdk_ts).
        (r"^codex_vscode/", "codex-vscode"),
        (r"^codex desktop/", "codex-desktop"),
        (r"^codex_cli_rs/|^codex[-_ ]", "codex-cli"),
        # Gemini CLI: "GeminiCLI/<version>[/<model>] (<platform>; <arch>)"
        # (google-gemini/gemini-cli packages/core/src/core/contentGenerator.ts).
        (r"^GeminiCLI/", "gemini-cli"),
        (r"GitHubCopilotChat/|copilot-language-server|copilot/", "github-copilot"),
    )
)


def app_for(headers: Mapping[str, str], default: str | None) -> str | None:
    """The app named by the request headers (case-insensitive mapping), else `default`."""
    agent = headers.get("user-agent") or ""
    for pattern, app in USER_AGENT_APPS:
        if pattern.search(agent):
            return app
    return default
