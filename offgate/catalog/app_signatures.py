"""What each AI app goes by on a workstation, one entry per app, beside the hosts it calls.

One list says every name offgate knows an app by: its processes, the command a shell runs it
with (and the package a runner like npx starts it from), its VS Code-family extension ids, its
JetBrains plugin ids, its Linux .desktop entries, its macOS bundle and its Windows uninstall
DisplayName. The inventory and the shell-history counts (workstation/) read only this list.

Sources: each vendor's install documentation and marketplace pages (extension and plugin ids
as the VS Code Marketplace, Open VSX and plugins.jetbrains.com list them; package names as
npm and PyPI publish them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

AppKind = Literal["desktop-app", "agent", "language-server", "ide-extension"]


@dataclass(frozen=True, slots=True)
class AppSignature:
    """How one app shows itself. Process names are compared exactly (a Windows ".exe" aside):
    Claude's desktop app runs as "Claude", Claude Code as "claude"."""

    name: str
    kind: AppKind
    processes: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # what a shell runs: "claude", or "ollama run" (command and subcommand)
    packages: tuple[str, ...] = ()  # what npx/uvx/pipx run start it from
    ide_extensions: tuple[str, ...] = ()  # publisher.name, compared case-insensitively
    jetbrains_plugins: tuple[str, ...] = ()
    desktop_entries: tuple[str, ...] = ()  # .desktop file stems or Name=, case-insensitive
    macos_bundles: tuple[str, ...] = ()  # "Cursor.app"
    windows_uninstall: str | None = None  # regex on DisplayName, matched from its start, case-insensitive


APP_SIGNATURES: tuple[AppSignature, ...] = (
    # Desktop apps.
    AppSignature("chatgpt-desktop", "desktop-app", processes=("ChatGPT",), desktop_entries=("chatgpt",),
                 macos_bundles=("ChatGPT.app",), windows_uninstall=r"ChatGPT\b"),
    AppSignature("claude-desktop", "desktop-app", processes=("Claude",), desktop_entries=("claude", "claude-desktop"),
                 macos_bundles=("Claude.app",), windows_uninstall=r"Claude\b(?! Code)"),
    AppSignature("cursor", "desktop-app", processes=("cursor", "Cursor"), desktop_entries=("cursor",),
                 macos_bundles=("Cursor.app",), windows_uninstall=r"Cursor\b"),
    AppSignature("windsurf", "desktop-app", processes=("windsurf", "Windsurf"), desktop_entries=("windsurf",),
                 macos_bundles=("Windsurf.app",), windows_uninstall=r"Windsurf\b"),
    AppSignature("lm-studio", "desktop-app", processes=("LM Studio", "lm-studio", "lms"),
                 desktop_entries=("lm-studio", "lm studio"), macos_bundles=("LM Studio.app",),
                 windows_uninstall=r"LM Studio\b"),
    AppSignature("ollama", "desktop-app", processes=("ollama", "Ollama"), commands=("ollama run",),
                 desktop_entries=("ollama",), macos_bundles=("Ollama.app",), windows_uninstall=r"Ollama\b"),
    AppSignature("jan", "desktop-app", processes=("jan", "Jan"), desktop_entries=("jan",),
                 macos_bundles=("Jan.app",), windows_uninstall=r"Jan\b"),
    AppSignature("msty", "desktop-app", processes=("msty", "Msty"), desktop_entries=("msty",),
                 macos_bundles=("Msty.app",), windows_uninstall=r"Msty\b"),
    AppSignature("anythingllm", "desktop-app", processes=("AnythingLLM", "anythingllm-desktop"),
                 desktop_entries=("anythingllm", "anythingllm-desktop"), macos_bundles=("AnythingLLM.app",),
                 windows_uninstall=r"AnythingLLM\b"),
    # Coding agents and AI command-line tools.
    AppSignature("claude-code", "agent", processes=("claude",), commands=("claude",),
                 packages=("@anthropic-ai/claude-code",), ide_extensions=("anthropic.claude-code",)),
    AppSignature("codex-cli", "agent", processes=("codex",), commands=("codex",), packages=("@openai/codex",),
                 ide_extensions=("openai.chatgpt",)),
    AppSignature("gemini-cli", "agent", processes=("gemini",), commands=("gemini",), packages=("@google/gemini-cli",)),
    AppSignature("aider", "agent", processes=("aider",), commands=("aider",), packages=("aider-chat", "aider-install")),
    AppSignature("opencode", "agent", processes=("opencode",), commands=("opencode",), packages=("opencode-ai",)),
    AppSignature("goose", "agent", processes=("goose", "goosed"), commands=("goose",)),
    AppSignature("qwen-code", "agent", processes=("qwen",), commands=("qwen",), packages=("@qwen-code/qwen-code",)),
    AppSignature("amp", "agent", processes=("amp",), commands=("amp",), packages=("@sourcegraph/amp",)),
    AppSignature("copilot-cli", "agent", processes=("copilot",), commands=("copilot", "gh copilot"),
                 packages=("@github/copilot",)),
    AppSignature("llm", "agent", commands=("llm",), packages=("llm",)),
    AppSignature("shell-gpt", "agent", processes=("sgpt",), commands=("sgpt",), packages=("shell-gpt",)),
    # Language servers and the IDE extensions that start them.
    AppSignature("github-copilot", "language-server", processes=("copilot-language-server",),
                 packages=("@github/copilot-language-server",),
                 ide_extensions=("github.copilot", "github.copilot-chat"), jetbrains_plugins=("com.github.copilot",)),
    AppSignature("codeium", "language-server",
                 processes=("language_server_linux_x64", "language_server_linux_arm", "language_server_macos_x64",
                            "language_server_macos_arm", "language_server_windows_x64"),
                 ide_extensions=("codeium.codeium", "codeium.windsurfpyright"),
                 jetbrains_plugins=("com.codeium.intellij",)),
    AppSignature("tabnine", "language-server", processes=("TabNine", "TabNine-deep-local", "WD-TabNine"),
                 ide_extensions=("tabnine.tabnine-vscode",), jetbrains_plugins=("com.tabnine.TabNine",)),
    AppSignature("supermaven", "language-server", processes=("sm-agent",), ide_extensions=("supermaven.supermaven",),
                 jetbrains_plugins=("com.supermaven.intellij",)),
    AppSignature("continue", "ide-extension", ide_extensions=("continue.continue",),
                 jetbrains_plugins=("com.github.continuedev.continueintellijextension",)),
    AppSignature("cline", "ide-extension", ide_extensions=("saoudrizwan.claude-dev",)),
    AppSignature("roo-code", "ide-extension", ide_extensions=("rooveterinaryinc.roo-cline",)),
    AppSignature("kilo-code", "ide-extension", ide_extensions=("kilocode.kilo-code",)),
    AppSignature("amazon-q", "ide-extension", processes=("qchat",),
                 ide_extensions=("amazonwebservices.amazon-q-vscode",), jetbrains_plugins=("amazon.q",)),
    AppSignature("gemini-code-assist", "ide-extension", ide_extensions=("google.geminicodeassist",),
                 jetbrains_plugins=("com.google.tools.ij.aiplugin",)),
    AppSignature("cody", "ide-extension", ide_extensions=("sourcegraph.cody-ai",),
                 jetbrains_plugins=("com.sourcegraph.jetbrains",)),
    AppSignature("jetbrains-ai-assistant", "ide-extension", jetbrains_plugins=("com.intellij.ml.llm",)),
)

_BY_PROCESS = {process: app for app in APP_SIGNATURES for process in app.processes}
_BY_EXTENSION = {extension.lower(): app for app in APP_SIGNATURES for extension in app.ide_extensions}
_BY_PLUGIN = {plugin: app for app in APP_SIGNATURES for plugin in app.jetbrains_plugins}
_BY_DESKTOP_ENTRY = {entry.lower(): app for app in APP_SIGNATURES for entry in app.desktop_entries}
_BY_BUNDLE = {bundle: app for app in APP_SIGNATURES for bundle in app.macos_bundles}
_BY_PACKAGE = {package: app for app in APP_SIGNATURES for package in app.packages}
# Longest first, so "gh copilot" is tried before a bare "gh" could be.
_COMMANDS = sorted(((tuple(command.split()), app) for app in APP_SIGNATURES for command in app.commands),
                   key=lambda entry: -len(entry[0]))
_WINDOWS = [(re.compile(app.windows_uninstall, re.IGNORECASE), app) for app in APP_SIGNATURES
            if app.windows_uninstall]


def app_for_process(name: str) -> AppSignature | None:
    return _BY_PROCESS.get(name.removesuffix(".exe"))


def app_for_extension(extension_id: str) -> AppSignature | None:
    """`extension_id`: "publisher.name", as VS Code, VSCodium, Cursor and Windsurf name it."""
    return _BY_EXTENSION.get(extension_id.lower())


def app_for_plugin(plugin_id: str) -> AppSignature | None:
    return _BY_PLUGIN.get(plugin_id)


def app_for_desktop_entry(*names: str) -> AppSignature | None:
    """The app a .desktop file is for, by its file stem or its Name=."""
    for name in names:
        found = _BY_DESKTOP_ENTRY.get(name.lower())
        if found is not None:
            return found
    return None


def app_for_bundle(bundle: str) -> AppSignature | None:
    return _BY_BUNDLE.get(bundle)


def app_for_package(package: str) -> AppSignature | None:
    """`package`: an npm or PyPI name, with or without "@version"."""
    scope, at, rest = package.partition("@") if package.startswith("@") else ("", "", package)
    return _BY_PACKAGE.get(scope + at + rest.split("@", 1)[0].split("==", 1)[0])


def app_for_command(words: tuple[str, ...]) -> AppSignature | None:
    """The app a command line's words run (the command's own name first, no path)."""
    for command, app in _COMMANDS:
        if words[:len(command)] == command:
            return app
    return None


def app_for_uninstall_name(display_name: str) -> AppSignature | None:
    for pattern, app in _WINDOWS:
        if pattern.match(display_name):
            return app
    return None
