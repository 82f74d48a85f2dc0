"""What the browser extension taps, exported from the catalog.

The extension never parses anything: it only needs to know which requests of the AI web
apps to copy to the native host, which then reads them with the very catalog they came
from. `web_app_targets` lists each web app's hosts and path patterns (rewritten as
JavaScript regular expressions), `targets_js` renders them as the extension's
generated/targets.js, and `content_script_matches` gives the manifest's page patterns.
`offgate extension targets` writes both; a test checks the committed files match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from offgate.catalog import PROVIDERS
from offgate.catalog.registry import Provider

# Python-only regex syntax that JavaScript reads differently or not at all.
_UNPORTABLE = (
    (re.compile(r"\\[AZz]"), r"\A, \Z"),
    (re.compile(r"\(\?[aiLmsux-]+[:)]"), "inline flags"),
    (re.compile(r"\(\?#"), "comments"),
    (re.compile(r"\(\?>|(?<!\\)[*+?}]\+"), "atomic groups or possessive quantifiers"),
)


@dataclass(frozen=True, slots=True)
class Target:
    """One web app host and the paths on it that carry LLM calls (JavaScript regexes,
    anchored at both ends). A host starting with "*." stands for its subdomains."""

    provider: str
    app: str
    host: str
    http_paths: tuple[str, ...]
    websocket_paths: tuple[str, ...]


def is_web_app(provider: Provider) -> bool:
    """An app people use in a browser tab. The catalog says so by two marks: it reports no
    usage (tokens are estimated), and it is not a named tool's API (`app` names the tool
    there, as for JetBrains AI, whose IDE plugin also gets estimates)."""
    return provider.usage == "estimated" and provider.app is None


def js_regex(python_regex: str) -> str:
    """A Python path regex (matched whole) as an anchored JavaScript regex; ValueError
    names any syntax JavaScript does not share."""
    for pattern, what in _UNPORTABLE:
        if pattern.search(python_regex):
            raise ValueError(f"path regex {python_regex!r} uses {what}, which JavaScript lacks")
    converted = python_regex.replace("(?P<", "(?<")
    converted = re.sub(r"\(\?P=(\w+)\)", r"\\k<\1>", converted)
    return f"^(?:{converted})$"


def web_app_targets(providers: Iterable[Provider] = PROVIDERS) -> list[Target]:
    targets: list[Target] = []
    for provider in providers:
        if not is_web_app(provider):
            continue
        http_paths = tuple(js_regex(rule.pattern.pattern) for rule in provider.paths if not rule.parser.websocket)
        websocket_paths = tuple(js_regex(rule.pattern.pattern) for rule in provider.paths if rule.parser.websocket)
        for host in provider.hosts:
            targets.append(Target(provider.name, provider.app or provider.name, host, http_paths, websocket_paths))
    return targets


def content_script_matches(targets: Iterable[Target]) -> list[str]:
    """The manifest's match patterns: every page on a web app's hosts. A wildcard host is a
    server the app's pages talk to (Poe's update channel), never a page of its own."""
    return sorted({f"https://{target.host}/*" for target in targets if not target.host.startswith("*.")})


def targets_js(targets: Iterable[Target]) -> str:
    entries = ",\n".join("  " + json.dumps(asdict(target), sort_keys=True) for target in targets)
    return (
        "// Generated from offgate's catalog by `offgate extension targets`: do not edit.\n"
        "// Which requests the page tap copies to the native host (see offgate/catalog/export.py).\n"
        f"const OFFGATE_TARGETS = Object.freeze([\n{entries}\n]);\n"
    )
