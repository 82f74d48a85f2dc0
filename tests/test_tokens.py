"""offgate.tokens: exact counts with LiteLLM's bundled encodings, the encoding chosen per
model family, the chat overhead, and that nothing is ever downloaded."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import tiktoken

from offgate.tokens import count_text, encoding_name_for, estimate_completion, estimate_prompt

TEXTS = {
    "hello world": (2, 2),
    "Hello, world! Ça va? 日本語のテキスト。": (14, 17),
    "<|endoftext|> is a special token": (11, 11),
    "def f(x):\n    return x ** 2\n": (11, 11),
}


@pytest.mark.parametrize(("text", "counts"), TEXTS.items())
def test_counts_are_tiktokens_own(text, counts):
    o200k_count, cl100k_count = counts
    assert count_text("gpt-4o", text) == o200k_count
    assert count_text("claude-sonnet-4-5", text) == cl100k_count
    # count_text has pointed tiktoken at the bundled files, so this loads offline too.
    assert o200k_count == len(tiktoken.get_encoding("o200k_base").encode(text, disallowed_special=()))
    assert cl100k_count == len(tiktoken.get_encoding("cl100k_base").encode(text, disallowed_special=()))


def test_empty_text_has_no_tokens():
    assert count_text("gpt-4o", "") == 0


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("openai/gpt-4.1-nano", "o200k_base"),
        ("azure/gpt-4o", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4", "o200k_base"),  # unknown to tiktoken, named like the o-series
        ("gpt-4.5", "o200k_base"),
        ("gpt-5.1-codex", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-oss-120b", "o200k_harmony"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("azure/gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-davinci-003", "p50k_base"),
        ("davinci", "cl100k_base"),  # r50k_base is not bundled: never downloaded
        ("claude-sonnet-4-5", "cl100k_base"),  # LiteLLM's default for Claude 3+
        ("gemini-2.5-flash", "cl100k_base"),  # and for Gemini
        ("models/gemini-2.5-flash", "cl100k_base"),
        (None, "cl100k_base"),
    ],
)
def test_encoding_per_model_family(model, encoding):
    assert encoding_name_for(model) == encoding


def test_chat_prompts_add_four_tokens_per_message_and_three_for_the_reply():
    texts = ["You are terse.", "Hi"]  # 4 + 1 tokens
    assert estimate_prompt("gpt-4o", texts, messages=2) == 4 + 1 + 2 * 4 + 3
    assert estimate_prompt("gpt-4o", texts, messages=0) == 4 + 1
    assert estimate_prompt("gpt-4o", [], messages=0) == 0


def test_completion_is_the_sum_of_its_pieces():
    assert estimate_completion("gpt-4o", ["hello", " world"]) == 2
    assert estimate_completion("gpt-4o", []) == 0


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Any download would go through a proxy that refuses connections.
    environment = {
        **os.environ,
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
        **env,
    }
    command = [sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)


def test_counts_offline_even_when_tiktoken_is_told_to_download():
    # An empty TIKTOKEN_CACHE_DIR tells tiktoken not to cache, i.e. to download every time.
    result = _run(
        """
        import os, sys
        from offgate.tokens import count_text
        assert count_text("gpt-4o", "Hello, world! Ça va? 日本語のテキスト。") == 14
        assert count_text("claude-sonnet-4-5", "Hello, world! Ça va? 日本語のテキスト。") == 17
        assert count_text("text-davinci-003", "hello world") == 2
        assert os.environ["TIKTOKEN_CACHE_DIR"].endswith(os.path.join("litellm_core_utils", "tokenizers"))
        assert "litellm" not in sys.modules
        """,
        TIKTOKEN_CACHE_DIR="",
    )
    assert result.returncode == 0, result.stderr


def test_own_cache_dir_falls_back_to_cl100k_and_never_downloads(tmp_path):
    cl100k_url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    cl100k_file = hashlib.sha1(cl100k_url.encode()).hexdigest()
    litellm_dir = next(iter(importlib.util.find_spec("litellm").submodule_search_locations))
    only_cl100k = tmp_path / "only-cl100k"
    only_cl100k.mkdir()
    shutil.copy(os.path.join(litellm_dir, "litellm_core_utils", "tokenizers", cl100k_file), only_cl100k)
    result = _run(
        """
        from offgate.tokens import count_text, encoding_name_for
        assert encoding_name_for("gpt-4o") == "cl100k_base", encoding_name_for("gpt-4o")
        assert count_text("gpt-4o", "Hello, world! Ça va? 日本語のテキスト。") == 17
        """,
        OFFGATE_TIKTOKEN_CACHE_DIR=str(only_cl100k),
    )
    assert result.returncode == 0, result.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run(
        """
        from offgate.tokens import count_text
        try:
            count_text("gpt-4o", "hello")
        except FileNotFoundError as error:
            print(error)
        else:
            raise AssertionError("counted without a tokenizer file")
        """,
        OFFGATE_TIKTOKEN_CACHE_DIR=str(empty),
    )
    assert result.returncode == 0, result.stderr
    assert "no cl100k_base tokenizer file" in result.stdout
    assert list(empty.iterdir()) == []
