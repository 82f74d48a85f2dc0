"""Shell history: AI tools run per day and tool, keys typed in a shell by fingerprint only,
read incrementally from bash, zsh (extended or plain) and fish history files.

The files follow each shell's own format: bash's history with HISTTIMEFORMAT set ("#<epoch>"
before each command, bash(1) "HISTORY"), zsh's EXTENDED_HISTORY (": <start>:<elapsed>;<command>",
zshoptions(1); metafied bytes, Src/utils.c metafy) and fish's YAML-like fish_history ("- cmd:",
"  when:", "  paths:", fish's src/history.cpp).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from offgate.fingerprint import key_fingerprint
from offgate.store import Store
from offgate.store.workstation import WorkstationStore
from workstation.shell_commands import keys_in, tools_in
from workstation.shell_history import scan_shell_history

SALT = b"0123456789abcdef"
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
DAY1, DAY2 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC), datetime(2026, 3, 3, 23, 59, 30, tzinfo=UTC)
T1, T2 = int(DAY1.timestamp()), int(DAY2.timestamp())

OPENAI_KEY = "sk-proj-Abc123Def456Ghi789Jkl012Mno345"
ANTHROPIC_KEY = "sk-ant-api03-ZYXwvu987654321TSRqpo_nml-kji"
GEMINI_KEY = "AIzaSyD-abcdefghijklmnopqrstuvwxyz12345"
BEARER_KEY = "sk-proj-Bearer0000Curl1111Typed2222"
FISH_KEY = "sk-ant-api03-fishFISHfish0123456789abcdef"
UNKNOWN_KEY = "tok_live_1234567890abcdefXYZ"

BASH = [  # (time or None, command)
    (T1, "claude"),
    (T1, f"export OPENAI_API_KEY={OPENAI_KEY}"),
    (T1, 'cd ~/src/payroll && claude -p "why does the payroll test fail"'),
    (T1, "ls -la ~/src/payroll"),
    (T2, 'npx -y @anthropic-ai/claude-code@latest "review"'),
    (T2, f"curl https://api.openai.com/v1/chat/completions -H 'Authorization: Bearer {BEARER_KEY}' -d @req.json"),
    (T2, "echo $OPENAI_API_KEY"),
    (T2, "export OPENAI_API_KEY=$(pass show openai)"),
    (None, "ollama run llama3.2 'tell me a secret'"),
    (None, "ollama list"),
]
ZSH_EXTENDED = [
    (T1, "sudo -E codex exec 'rotate the staging keys'"),
    (T1, f"GEMINI_API_KEY={GEMINI_KEY} gemini -p 'summarize ~/notes/q3.md'"),
    (T2, "aider --model sonnet src/app.py \\\n  src/db.py"),
    (T2, "llm 'café ☕ menu' | sgpt 'translate'"),
]
ZSH_PLAIN = ["codex", "git status", f"http POST api.anthropic.com/v1/messages x-api-key:{ANTHROPIC_KEY}"]
FISH = [
    (T2, f"set -gx ANTHROPIC_API_KEY {FISH_KEY}"),
    (T2, "claude --resume"),
    (T1, "uvx llm 'hello'"),
    (T1, f"curl -H 'Authorization: Bearer {UNKNOWN_KEY}' https://example.com/api"),
]


def bash_text(entries: list[tuple[int | None, str]]) -> str:
    return "".join((f"#{ts}\n" if ts else "") + f"{command}\n" for ts, command in entries)


def zsh_bytes(entries: list[tuple[int, str]]) -> bytes:
    text = "".join(f": {ts}:0;{command}\n" for ts, command in entries).encode()
    # zsh metafies bytes 0x83-0x9f: 0x83, then the byte XOR 0x20 (☕ is e2 98 95).
    return text.replace(b"\x98", b"\x83\xb8").replace(b"\x95", b"\x83\xb5")


def fish_text(entries: list[tuple[int, str]]) -> str:
    return "".join(f"- cmd: {command}\n  when: {ts}\n  paths:\n    - ~/src/payroll\n" for ts, command in entries)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    (home / ".bash_history").write_text(bash_text(BASH))
    (home / ".zsh_history").write_bytes(zsh_bytes(ZSH_EXTENDED))
    (home / ".zhistory").write_text("".join(f"{command}\n" for command in ZSH_PLAIN))
    fish = home / ".local/share/fish/fish_history"
    fish.parent.mkdir(parents=True)
    fish.write_text(fish_text(FISH))
    return home


def runs(store: Store) -> dict[tuple[str, str], int]:
    return {(entry["day"], entry["tool"]): entry["runs"] for entry in WorkstationStore(store).tool_runs()}


TODAY = NOW.date().isoformat()
EXPECTED_RUNS = {
    ("2026-03-02", "claude-code"): 2, ("2026-03-02", "codex-cli"): 1, ("2026-03-02", "gemini-cli"): 1,
    ("2026-03-02", "llm"): 1,
    ("2026-03-03", "claude-code"): 2, ("2026-03-03", "curl to openai"): 1, ("2026-03-03", "aider"): 1,
    ("2026-03-03", "llm"): 1, ("2026-03-03", "shell-gpt"): 1,
    (TODAY, "ollama"): 1, (TODAY, "codex-cli"): 1, (TODAY, "http to anthropic"): 1,
}


def test_tools_are_counted_per_day_and_keys_kept_as_fingerprints(home: Path, store_url: str) -> None:
    with Store.open(store_url) as store:
        summary = scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        counted, findings = runs(store), WorkstationStore(store).key_findings()
    assert counted == EXPECTED_RUNS
    assert (summary.files_read, summary.entries) == (4, len(BASH) + len(ZSH_EXTENDED) + len(ZSH_PLAIN) + len(FISH))
    assert len(findings) == 6
    assert {(f["provider"], f["key_fingerprint"], f["message"], f["times"]) for f in findings} == {
        ("openai", key_fingerprint(OPENAI_KEY, SALT), "a raw OpenAI key was used in a shell on ws-17", 1),
        ("openai", key_fingerprint(BEARER_KEY, SALT), "a raw OpenAI key was used in a shell on ws-17", 1),
        ("gemini", key_fingerprint(GEMINI_KEY, SALT), "a raw Gemini key was used in a shell on ws-17", 1),
        ("anthropic", key_fingerprint(ANTHROPIC_KEY, SALT), "a raw Anthropic key was used in a shell on ws-17", 1),
        ("anthropic", key_fingerprint(FISH_KEY, SALT), "a raw Anthropic key was used in a shell on ws-17", 1),
        (None, key_fingerprint(UNKNOWN_KEY, SALT), "a raw API key was used in a shell on ws-17", 1),
    }


def test_a_rescan_counts_only_what_was_added(home: Path, tmp_path: Path) -> None:
    bash = home / ".bash_history"
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        again = scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        assert (again.entries, runs(store)) == (0, EXPECTED_RUNS)
        # A command still being written (no newline yet) waits for the next scan.
        with bash.open("a") as history:
            history.write(f"#{T2}\ncodex\n#{T2}\ngemi")
        partial = scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        with bash.open("a") as history:
            history.write(f"ni -p 'x'\n#{T2}\n")
        completed = scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        with bash.open("a") as history:  # the same key, typed twice more: one finding, three times
            history.write(f"export OPENAI_API_KEY={OPENAI_KEY}\nexport OPENAI_API_KEY='{OPENAI_KEY}'\n")
        scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        counted = runs(store)
        typed = [(f["times"], f["provider"]) for f in WorkstationStore(store).key_findings()
                 if f["key_fingerprint"] == key_fingerprint(OPENAI_KEY, SALT)]
    assert (partial.entries, dict(partial.runs)) == (1, {"codex-cli": 1})
    assert (completed.entries, dict(completed.runs)) == (1, {"gemini-cli": 1})
    assert counted[("2026-03-03", "codex-cli")] == 1 and counted[("2026-03-03", "gemini-cli")] == 1
    assert typed == [(3, "openai")]


def test_a_rewritten_history_is_not_counted_twice(home: Path, tmp_path: Path) -> None:
    """bash trims its file to HISTFILESIZE by rewriting it; fish rewrites on every merge."""
    bash, fish = home / ".bash_history", home / ".local/share/fish/fish_history"
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        bash.write_text(bash_text(BASH[3:] + [(T2, "claude"), (T2, "codex")]))  # the oldest 3 trimmed, 2 new
        fish.write_text(fish_text(FISH + [(T2, "goose session")]))
        trimmed = scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        # A history replaced by other content altogether: the timed entries already counted are skipped.
        bash.write_text(bash_text([(T1, "claude"), (T2 + 60, "claude")]))
        replaced = scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        counted = runs(store)
    assert dict(trimmed.runs) == {"claude-code": 1, "codex-cli": 1, "goose": 1}
    assert dict(replaced.runs) == {"claude-code": 1}
    assert counted[("2026-03-03", "claude-code")] == 2 + 1
    assert counted[("2026-03-04", "claude-code")] == 1  # a minute after T2, past midnight
    assert counted[("2026-03-03", "goose")] == 1


def test_the_store_keeps_no_command_line_key_or_path(home: Path, tmp_path: Path) -> None:
    database = tmp_path / "offgate.db"
    with Store.open(f"sqlite:///{database}") as store:
        scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
        scan_shell_history(home, store, NOW, salt=SALT, device="ws-17")
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("offgate.db*"))
    secrets = [OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, BEARER_KEY, FISH_KEY, UNKNOWN_KEY, str(home), "~/src/payroll",
               "payroll", "rotate the staging keys", "tell me a secret", "q3.md", "café", "why does"]
    # Every command line (a bare "claude" or "codex" is only a tool's name, which is kept).
    commands = [command for command in [*(c for _, c in [*BASH, *ZSH_EXTENDED, *FISH]), *ZSH_PLAIN] if " " in command]
    assert stored.count(b"claude-code") > 0  # the counts are there
    for text in secrets + commands:
        assert text.encode() not in stored, text


@pytest.mark.parametrize(("command", "tools"), [
    ("claude", ["claude-code"]),
    ("/usr/local/bin/claude --continue", ["claude-code"]),
    ("FOO=1 BAR=2 nohup codex exec x &", ["codex-cli"]),
    ("gh copilot suggest 'undo commit'", ["copilot-cli"]),
    ("pipx run shell-gpt 'x'", ["shell-gpt"]),
    ("uv tool run aider-chat", ["aider"]),
    ("ollama serve", []),
    ("ollama run qwen2.5 && ollama run llama3", ["ollama", "ollama"]),
    ("wget -qO- https://generativelanguage.googleapis.com/v1beta/models", ["wget to gemini"]),
    ("curl https://example.com/claude", []),
    ("git commit -m 'claude helped'", []),
    ("vim claude.md", []),
    ("echo \"unclosed quote; claude", ["claude-code"]),
    ("OPENAI_API_KEY=\"sk-x y\" 'claude' -p \"a b\"", ["claude-code"]),
])
def test_which_tools_a_command_runs(command: str, tools: list[str]) -> None:
    assert tools_in(command) == tools


@pytest.mark.parametrize(("command", "keys"), [
    (f"export OPENAI_API_KEY='{OPENAI_KEY}'", {OPENAI_KEY: "openai"}),
    (f"export DEEPSEEK_API_KEY=sk-{'a1' * 16}", {f"sk-{'a1' * 16}": "deepseek"}),  # the variable says, not the prefix
    ("export OPENAI_API_KEY=$OTHER_KEY", {}),
    ("export OPENAI_API_KEY=\"${OPENAI_KEY_FILE}\"", {}),
    (f"curl -H 'x-goog-api-key: {GEMINI_KEY}' https://generativelanguage.googleapis.com/", {GEMINI_KEY: "gemini"}),
    ("curl -H 'Authorization: Bearer abcdefghijklmnop1234' https://api.groq.com/openai/v1/models",
     {"abcdefghijklmnop1234": "groq"}),
    ("echo sk-short", {}),
])
def test_which_keys_a_command_types(command: str, keys: dict[str, str]) -> None:
    assert keys_in(command) == keys


def test_a_day_is_the_entry_s_own_utc_day() -> None:
    assert datetime.fromtimestamp(T2, UTC).date() == date(2026, 3, 3)
