"""How far offline token estimates are from the usage providers report, per model family.

    uv run python bench/estimate_accuracy.py

For every recorded call in tests/fixtures whose response reports usage and whose text the
parser could read, the prompt and the reply are estimated as if no usage had come
(offgate.tokens, the same path a web app or a cut-off stream takes) and compared with the
reported counts. The peer is raw tiktoken on the same text, without the chat overhead
offgate adds. Reported usage always wins in offgate; this only says how much to trust the
calls that must be estimated.
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offgate import tokens
from tests.support.fixture_files import fixture_names, load_fixture, read_call


def family(model: str) -> str:
    name = model.lower().rsplit("/", 1)[-1]
    for key in ("gpt", "o1", "o3", "o4", "claude", "gemini", "mistral", "command", "llama", "deepseek",
                "grok", "sonar", "qwen", "text-embedding"):
        if key in name:
            return key
    return "other"


def raw_count(model: str, texts: list[str]) -> int:
    """The peer: tiktoken on each text, no chat overhead."""
    return sum(tokens.count_text(model, text) for text in texts)


def relative_error(estimate: int, reported: int) -> float | None:
    return None if reported == 0 else (estimate - reported) / reported


def main() -> None:
    errors: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name in fixture_names():
        fixture = load_fixture(name)
        reading = read_call(fixture)
        usage = reading.usage
        if reading.status != "ok" or usage is None or not reading.model:
            continue
        pairs = []
        # Audio is counted apart from the text read: compare the text's share only.
        if reading.prompt_texts and usage.prompt_tokens:
            ours = tokens.estimate_prompt(reading.model, reading.prompt_texts, reading.prompt_messages)
            text = usage.prompt_tokens - (usage.audio_prompt_tokens or 0)
            pairs.append(("prompt", ours, raw_count(reading.model, reading.prompt_texts), text))
        if reading.completion_texts and usage.completion_tokens:
            ours = tokens.estimate_completion(reading.model, reading.completion_texts)
            # Reasoning tokens are billed but their text is not sent: compare with the visible part.
            visible = usage.completion_tokens - (usage.reasoning_tokens or 0) - (usage.audio_completion_tokens or 0)
            pairs.append(("completion", ours, raw_count(reading.model, reading.completion_texts), visible))
        for side, ours, peer, reported in pairs:
            if reported <= 0:
                continue
            errors[family(reading.model)][f"{side} ours"].append(relative_error(ours, reported))
            errors[family(reading.model)][f"{side} raw"].append(relative_error(peer, reported))

    print("| family | calls | prompt: ours | prompt: raw tiktoken | completion: ours | completion: raw tiktoken |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in sorted(errors):
        cells = errors[name]
        calls = max(len(v) for v in cells.values())
        print(f"| {name} | {calls} | " + " | ".join(
            _cell(cells.get(key, [])) for key in ("prompt ours", "prompt raw", "completion ours", "completion raw")
        ) + " |")
    print("\ncells: median relative error (estimate - reported) / reported, and the largest |error|")


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):+.1%} (max {max(abs(v) for v in values):.0%})"


if __name__ == "__main__":
    main()
