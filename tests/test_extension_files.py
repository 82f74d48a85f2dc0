"""The extension's files against the Python side: the generated URL list and page patterns
match the catalog, the fixed id follows from the manifest's key, and the manifest asks for
no more than it needs."""

from __future__ import annotations

import json
import re

import pytest

from native_host.extension import EXTENSION_DIR, extension_id_from_key, read_manifest
from native_host.generated import generated_files
from offgate.catalog import PROVIDERS
from offgate.catalog.export import js_regex, web_app_targets

# Documented in docs/extension.md (policies name it); it follows from the manifest's key.
EXTENSION_ID = "clhcgdidlmpfolmfgnimmeafdpjfccmk"


def test_the_generated_files_are_current() -> None:
    for path, text in generated_files().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(EXTENSION_DIR)} is out of date with the catalog: run `offgate extension targets`")


def test_the_id_follows_from_the_manifest_key() -> None:
    # Chromium agrees: the end-to-end tests open chrome-extension://<this id>/popup.html, and
    # Chromium lets the extension reach the host whose manifest allows only this id.
    assert extension_id_from_key(read_manifest()["key"]) == EXTENSION_ID


def test_the_manifest_asks_for_the_least_it_needs() -> None:
    manifest = read_manifest()
    assert manifest["manifest_version"] == 3
    assert manifest["permissions"] == ["nativeMessaging", "storage"]
    assert "host_permissions" not in manifest and "optional_permissions" not in manifest
    assert manifest["browser_specific_settings"]["gecko"]["id"] == "offgate@offgate.dev"
    main_world, isolated, coach = manifest["content_scripts"]
    assert (main_world["world"], main_world["js"], main_world["run_at"]) == (
        "MAIN", ["generated/targets.js", "tap.js"], "document_start")
    assert isolated["js"] == ["bridge.js"] and "world" not in isolated
    assert main_world["matches"] == isolated["matches"] == coach["matches"]
    # The coaching notice: the extension's own world, once the page is there.
    assert (coach["js"], coach["run_at"]) == (["generated/targets.js", "coach.js"], "document_idle")
    assert "world" not in coach
    assert "https://chatgpt.com/*" in main_world["matches"] and "https://claude.ai/*" in main_world["matches"]


def test_no_remote_code() -> None:
    for page in EXTENSION_DIR.glob("*.html"):
        for source in re.findall(r'<script[^>]*src="([^"]+)"', page.read_text()):
            assert (EXTENSION_DIR / source).is_file(), f"{page.name} loads {source}"
    for script in EXTENSION_DIR.rglob("*.js"):
        text = script.read_text()
        for forbidden in ("eval(", "new Function", "importScripts", "import(", "http://", "https://"):
            assert forbidden not in text, f"{script.name} contains {forbidden}"


def test_the_tapped_apps_are_the_catalogs_web_apps() -> None:
    providers = {target.provider for target in web_app_targets()}
    assert {"chatgpt", "claude-web", "gemini-web", "microsoft-copilot"} <= providers
    # APIs and tools' APIs are the proxy's: no page of theirs is ever tapped.
    assert not providers & {"openai", "anthropic", "jetbrains-ai", "github-copilot"}
    hosts = {target.host for target in web_app_targets()}
    assert hosts == {host for p in PROVIDERS if p.name in providers for host in p.hosts}


def test_the_targets_file_lists_each_host_and_its_paths() -> None:
    text = (EXTENSION_DIR / "generated" / "targets.js").read_text()
    entries = json.loads(text[text.index("["):text.rindex("]") + 1])
    chatgpt = next(entry for entry in entries if entry["host"] == "chatgpt.com")
    assert chatgpt["app"] == "chatgpt"
    assert "^(?:/backend-(?:api|anon)(?:/f)?/conversation)$" in chatgpt["http_paths"]
    copilot = next(entry for entry in entries if entry["host"] == "copilot.microsoft.com")
    assert copilot["websocket_paths"] == ["^(?:/c/api/chat)$"]


def test_python_regexes_become_javascript_ones() -> None:
    assert js_regex(r"/v1/(?P<model>[^/]+)/x(?P=model)") == r"^(?:/v1/(?<model>[^/]+)/x\k<model>)$"


@pytest.mark.parametrize("regex", [r"/a\Z", r"(?i)/a", r"/a(?#note)", r"/(?>a)", r"/a++"])
def test_python_only_regex_syntax_is_refused(regex: str) -> None:
    with pytest.raises(ValueError, match="which JavaScript lacks"):
        js_regex(regex)
