"""`offgate route TOOL`: the settings that send a tool through the company's LiteLLM gateway,
printed, or written (--apply) and put back exactly (--undo).

Each tool is told the gateway's URL where it reads it, and, where it can send headers,
LiteLLM's customer id header (`x-litellm-customer-id`) naming the person, so the gateway's
spend is theirs. Keys are never written: the person sets their own LiteLLM key, as printed.

    claude-code    ~/.claude/settings.json: env ANTHROPIC_BASE_URL, ANTHROPIC_CUSTOM_HEADERS
    codex          ~/.codex/config.toml: model_provider and a [model_providers.offgate-gateway] table
    gemini-cli     ~/.gemini/.env: GOOGLE_GEMINI_BASE_URL
    openai-sdk     ~/.profile: export OPENAI_BASE_URL
    anthropic-sdk  ~/.profile: export ANTHROPIC_BASE_URL, ANTHROPIC_CUSTOM_HEADERS

--apply first keeps the file as it was (or that there was none) in <offgate home>/route/TOOL.json;
--undo puts it back byte for byte, and refuses if the file changed since offgate wrote it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from offgate.errors import BadInputError

CUSTOMER_HEADER = "x-litellm-customer-id"
CODEX_PROVIDER = "offgate-gateway"
KEY_VARIABLE = "LITELLM_API_KEY"
PROFILE_MARK = "# offgate route: the company's LiteLLM gateway"


@dataclass(frozen=True, slots=True)
class Route:
    tool: str
    file: Path
    content: str  # the file's new content
    key_hint: str  # how the person gives the tool their LiteLLM key (never written by offgate)


@dataclass(frozen=True, slots=True)
class Tool:
    relative_file: str
    edit: Callable[[str, str, str], str]  # (current text, gateway, user) -> new text
    key_hint: str


def _claude_code(text: str, gateway: str, user: str) -> str:
    try:
        settings = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise BadInputError(f"not valid JSON ({exc}): fix it first, offgate will not overwrite it") from None
    if not isinstance(settings, dict):
        raise BadInputError("is not a JSON object: fix it first, offgate will not overwrite it")
    env = settings.setdefault("env", {})
    env.update({"ANTHROPIC_BASE_URL": gateway, "ANTHROPIC_CUSTOM_HEADERS": f"{CUSTOMER_HEADER}: {user}"})
    return json.dumps(settings, indent=2) + "\n"


def _codex(text: str, gateway: str, user: str) -> str:
    lines = text.splitlines()
    first_table = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    top = [line for line in lines[:first_table] if not re.match(r"^\s*model_provider\s*=", line)]
    table = [f"[model_providers.{CODEX_PROVIDER}]", 'name = "the company\'s LiteLLM gateway (offgate route)"',
             f"base_url = {json.dumps(gateway.rstrip('/') + '/v1')}", f'env_key = "{KEY_VARIABLE}"',
             f"http_headers = {{ {json.dumps(CUSTOMER_HEADER)} = {json.dumps(user)} }}"]
    new = [f'model_provider = "{CODEX_PROVIDER}"', *top, *lines[first_table:]]
    return "\n".join(new).rstrip("\n") + "\n\n" + "\n".join(table) + "\n"


def _env_lines(variables: dict[str, str], export: bool) -> Callable[[str, str, str], str]:
    def edit(text: str, gateway: str, user: str) -> str:
        values = {name: value.format(gateway=gateway.rstrip("/"), user=user, header=CUSTOMER_HEADER)
                  for name, value in variables.items()}
        prefix = "export " if export else ""
        block = [PROFILE_MARK] + [f"{prefix}{name}={json.dumps(value)}" for name, value in values.items()]
        kept = text if not text or text.endswith("\n") else text + "\n"
        return kept + "\n".join(block) + "\n"
    return edit


TOOLS: dict[str, Tool] = {
    "claude-code": Tool(".claude/settings.json", _claude_code, "set ANTHROPIC_AUTH_TOKEN to your LiteLLM key"),
    "codex": Tool(".codex/config.toml", _codex, f"set {KEY_VARIABLE} to your LiteLLM key"),
    "gemini-cli": Tool(".gemini/.env", _env_lines({"GOOGLE_GEMINI_BASE_URL": "{gateway}"}, export=False),
                       "set GEMINI_API_KEY to your LiteLLM key"),
    "openai-sdk": Tool(".profile", _env_lines({"OPENAI_BASE_URL": "{gateway}/v1"}, export=True),
                       "set OPENAI_API_KEY to your LiteLLM key"),
    "anthropic-sdk": Tool(".profile", _env_lines({"ANTHROPIC_BASE_URL": "{gateway}",
                                                  "ANTHROPIC_CUSTOM_HEADERS": "{header}: {user}"}, export=True),
                          "set ANTHROPIC_API_KEY to your LiteLLM key"),
}


def route_for(tool: str, gateway: str, user: str, user_home: Path) -> Route:
    """The tool's settings file as it would be once routed through `gateway`."""
    found = TOOLS[tool]
    file = user_home / found.relative_file
    try:
        text = file.read_text(encoding="utf-8") if file.exists() else ""
        content = found.edit(text, gateway, user)
    except BadInputError as exc:
        raise BadInputError(f"{file}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read {file}: {exc}") from None
    return Route(tool, file, content, found.key_hint)


def apply(route: Route, backups: Path) -> Path:
    """Write the route, keeping the file as it was first; returns the backup's path."""
    backup = backups / f"{route.tool}.json"
    if backup.exists():
        raise BadInputError(f"{route.tool} is already routed (offgate kept {backup}): `offgate route {route.tool} "
                            "--undo` first")
    before = route.file.read_bytes() if route.file.exists() else None
    backups.mkdir(parents=True, exist_ok=True)
    backup.write_text(json.dumps({
        "file": str(route.file), "existed": before is not None,
        "before": base64.b64encode(before).decode() if before is not None else None,
        "written": base64.b64encode(route.content.encode()).decode()}))
    route.file.parent.mkdir(parents=True, exist_ok=True)
    route.file.write_text(route.content, encoding="utf-8")
    return backup


def undo(tool: str, backups: Path) -> Path:
    """Put the tool's file back as it was before --apply; returns the file's path."""
    backup = backups / f"{tool}.json"
    if not backup.exists():
        raise BadInputError(f"{tool} was not routed by offgate here (no {backup})")
    kept = json.loads(backup.read_text())
    file = Path(kept["file"])
    now = file.read_bytes() if file.exists() else None
    if now != base64.b64decode(kept["written"]):
        raise BadInputError(f"{file} changed since offgate wrote it: put it back by hand from {backup} "
                            "(base64 'before'), then delete that file")
    if kept["existed"]:
        file.write_bytes(base64.b64decode(kept["before"]))
    else:
        file.unlink()
    backup.unlink()
    return file
