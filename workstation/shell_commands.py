"""What one shell command line says: which AI tools it ran, and which provider keys it typed.

The command line itself goes no further than this module: callers get tool names and keys
(which they fingerprint at once). Tools are named by the catalog's app signatures (their
commands, and the packages npx, uvx or pipx run start them from); an HTTP client (curl,
httpie, xh, wget) counts when it calls a host of a catalog provider.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from offgate.catalog import DEFAULT_CATALOG
from offgate.catalog.app_signatures import APP_SIGNATURES, app_for_command, app_for_package

_SEGMENTS = re.compile(r"\|\|?|&&|;|&|\n|\$\(|`|\(|\)")
_WORD = re.compile(r"""(?:'[^']*'?|"(?:\\.|[^"\\])*"?|[^\s'"]+)+""")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
WRAPPERS = frozenset({"sudo", "env", "time", "nohup", "exec", "command", "builtin", "noglob", "nice", "caffeinate"})
RUNNERS = (("npx",), ("bunx",), ("pnpx",), ("uvx",), ("pipx", "run"), ("pnpm", "dlx"), ("yarn", "dlx"),
           ("npm", "exec"), ("uv", "tool", "run"))
HTTP_CLIENTS = frozenset({"curl", "http", "https", "xh", "xhs", "wget", "httpie"})

# Environment variables providers' SDKs and CLIs read their key from -> the catalog's provider.
KEY_VARIABLES = {
    "OPENAI_API_KEY": "openai", "AZURE_OPENAI_API_KEY": "azure", "ANTHROPIC_API_KEY": "anthropic",
    "ANTHROPIC_AUTH_TOKEN": "anthropic", "GEMINI_API_KEY": "gemini", "GOOGLE_API_KEY": "gemini",
    "GROQ_API_KEY": "groq", "MISTRAL_API_KEY": "mistral", "XAI_API_KEY": "xai", "DEEPSEEK_API_KEY": "deepseek",
    "OPENROUTER_API_KEY": "openrouter", "TOGETHER_API_KEY": "together", "COHERE_API_KEY": "cohere",
    "CO_API_KEY": "cohere", "FIREWORKS_API_KEY": "fireworks", "PERPLEXITY_API_KEY": "perplexity",
    "PPLX_API_KEY": "perplexity", "HF_TOKEN": "huggingface", "HUGGINGFACE_API_KEY": "huggingface",
}
# How a finding names the provider whose key it is.
PROVIDER_LABELS = {
    "openai": "OpenAI", "azure": "Azure OpenAI", "anthropic": "Anthropic", "gemini": "Gemini", "groq": "Groq",
    "mistral": "Mistral", "xai": "xAI", "deepseek": "DeepSeek", "openrouter": "OpenRouter", "together": "Together AI",
    "cohere": "Cohere", "fireworks": "Fireworks AI", "perplexity": "Perplexity", "huggingface": "Hugging Face",
}
_VARIABLE_NAMES = "|".join(sorted(KEY_VARIABLES, key=len, reverse=True))
_KEY_VALUE = r"""(["']?)([^\s"'$`;|&()<>\\]{8,})\2"""
_EXPORTED_KEY = re.compile(rf"(?<![A-Za-z0-9_])({_VARIABLE_NAMES})={_KEY_VALUE}")
_FISH_SET_KEY = re.compile(rf"\bset\s+(?:-[a-zA-Z]+\s+)*({_VARIABLE_NAMES})\s+{_KEY_VALUE}")
_HEADER_KEY = re.compile(r"(?i)(?:authorization:\s*bearer\s+|x-api-key:\s*|api-key:\s*|x-goog-api-key:\s*)"
                         r"([A-Za-z0-9._\-]{16,})")
# Keys that say whose they are by their prefix (each provider's documented key format).
_PREFIXED_KEYS = tuple((re.compile(rf"(?<![A-Za-z0-9_\-])({pattern})"), provider) for pattern, provider in (
    (r"sk-ant-[A-Za-z0-9_\-]{20,}", "anthropic"),
    (r"sk-or-v1-[A-Za-z0-9]{20,}", "openrouter"),
    (r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}", "openai"),
    (r"AIza[0-9A-Za-z_\-]{35}", "gemini"),
    (r"gsk_[A-Za-z0-9]{20,}", "groq"),
    (r"xai-[A-Za-z0-9]{20,}", "xai"),
    (r"pplx-[A-Za-z0-9]{20,}", "perplexity"),
    (r"hf_[A-Za-z0-9]{20,}", "huggingface"),
))


# Words without which a command line can run no tool or type no key: most history lines
# (git, ls, cd) are passed over by one search instead of being split into words.
_TOOL_WORDS = re.compile(r"(?<![\w.-])(?:{})(?![\w.-])".format("|".join(sorted({
    re.escape(word) for word in (*(command.split()[0] for app in APP_SIGNATURES for command in app.commands),
                                 *(runner[0] for runner in RUNNERS), *HTTP_CLIENTS)}))))
_MAYBE_KEY = re.compile(r"API_KEY|_TOKEN|(?i:bearer|api-key)|sk-|AIza|gsk_|xai-|pplx-|hf_")


def tools_in(command: str) -> list[str]:
    """The AI tools a command line runs, once per run (`claude; claude` ran it twice)."""
    if not _TOOL_WORDS.search(command):
        return []
    tools = []
    for segment in _SEGMENTS.split(command):
        tool = _tool_of(_words(segment))
        if tool is not None:
            tools.append(tool)
    return tools


def keys_in(command: str) -> dict[str, str | None]:
    """Each provider key typed in the command line, with its provider when the variable, the
    key's prefix or the host called says (in that order), else None."""
    found: dict[str, str | None] = {}
    if not _MAYBE_KEY.search(command):
        return found
    for pattern in (_EXPORTED_KEY, _FISH_SET_KEY):
        for match in pattern.finditer(command):
            found.setdefault(match[3], KEY_VARIABLES[match[1]])
    for match in _HEADER_KEY.finditer(command):
        found.setdefault(match[1], None)
    for pattern, provider in _PREFIXED_KEYS:
        for match in pattern.finditer(command):
            found.setdefault(match[1], provider)
    host_provider = _called_provider(command)
    return {key: provider or _prefix_provider(key) or host_provider for key, provider in found.items()}


def _prefix_provider(key: str) -> str | None:
    return next((provider for pattern, provider in _PREFIXED_KEYS if pattern.fullmatch(key)), None)


def _called_provider(command: str) -> str | None:
    for word in command.split():
        provider = _provider_of_url(word.strip("'\""))
        if provider is not None:
            return provider
    return None


def _words(segment: str) -> list[str]:
    """The segment's words, quotes removed: enough to find the command, at a tenth of shlex's cost."""
    return [word.replace("'", "").replace('"', "") for word in _WORD.findall(segment)]


def _tool_of(words: list[str]) -> str | None:
    words = _without_wrappers(words)
    if not words:
        return None
    for runner in RUNNERS:
        if tuple(words[:len(runner)]) == runner:
            package = next((word for word in words[len(runner):] if not word.startswith("-")), None)
            app = app_for_package(package) if package else None
            return app.name if app else None
    program = words[0].rsplit("/", 1)[-1]
    if program in HTTP_CLIENTS:
        provider = next(filter(None, map(_provider_of_url, words[1:])), None)
        return f"{program} to {provider}" if provider else None
    app = app_for_command((program, *words[1:]))
    return app.name if app else None


def _without_wrappers(words: list[str]) -> list[str]:
    start, wrapped = 0, False
    while start < len(words):
        word = words[start]
        if _ASSIGNMENT.match(word) or word in WRAPPERS or (wrapped and word.startswith("-")):
            wrapped = wrapped or word in WRAPPERS
            start += 1
            continue
        break
    return words[start:]


def _provider_of_url(word: str) -> str | None:
    if any(space in word for space in " \t") or "." not in word:
        return None
    try:
        host = urlsplit(word if "://" in word else f"https://{word}").hostname
    except ValueError:
        return None
    provider = DEFAULT_CATALOG.provider_for_host(host) if host else None
    return provider.name if provider else None
