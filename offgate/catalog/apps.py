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
        (r"^claude-cli/", "claude-code"),
        (r"^codex_cli_rs/|^codex[-_ ]", "codex-cli"),
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
