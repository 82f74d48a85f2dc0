"""Token estimates for calls whose response reports no usage.

Counts use tiktoken with the encoding files LiteLLM bundles, and nothing is ever
fetched: tiktoken is pointed at LiteLLM's `litellm_core_utils/tokenizers` directory
(found without importing litellm, which is too slow and heavy for the proxy). It holds
cl100k_base, o200k_base and p50k_base; a model whose encoding is not there is counted
with cl100k_base rather than reaching for the network.

Set OFFGATE_TIKTOKEN_CACHE_DIR to use another directory of tiktoken cache files
instead of LiteLLM's; a TIKTOKEN_CACHE_DIR already in the environment is overridden,
as LiteLLM itself does, since an empty or foreign value would make tiktoken download.

tiktoken itself is imported when a model's encoding is first looked up (a call without
usage): a proxy whose calls all report their usage never loads it. The first count with
an encoding loads it (o200k_base about 0.3 s, cl100k_base about 0.15 s); after that a
count is an in-memory encode, about 10 us for 300 characters.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

CACHE_DIR_ENV = "OFFGATE_TIKTOKEN_CACHE_DIR"

# LiteLLM's default for every model it has no tokenizer for (Claude 3+, Gemini,
# Mistral...): their own tokenizers are not public, so this is an estimate.
DEFAULT_ENCODING = "cl100k_base"

# OpenAI models newer than the installed tiktoken's own table use o200k_base.
_MODERN_OPENAI = re.compile(r"(chatgpt-4o|gpt-4o|gpt-4\.[1-9]|gpt-5|gpt-realtime|o[1-9])($|[-.:])")

# tiktoken caches each downloaded file as sha1(url); these encodings reuse another's file.
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_FILE_OF = {"o200k_harmony": "o200k_base", "p50k_edit": "p50k_base"}


@functools.lru_cache(maxsize=1024)
def encoding_name_for(model: str | None) -> str:
    """The tiktoken encoding used to estimate tokens for `model`."""
    wanted = _encoding_name_wanted(model)
    # Only bundled encodings are used: any other would be downloaded.
    return wanted if _is_bundled(wanted) else DEFAULT_ENCODING


def count_text(model: str | None, text: str) -> int:
    """Tokens in `text`; special-token markers in it count as plain text."""
    if not text:
        return 0
    return len(_encoding(encoding_name_for(model)).encode_ordinary(text))


def estimate_prompt(model: str | None, texts: list[str], messages: int) -> int:
    """Tokens of a prompt made of `texts` spread over `messages` chat messages.

    Chat formatting adds 3 tokens per message, 1 for its role and 3 to prime the reply
    (OpenAI cookbook, "How to count tokens with tiktoken"; litellm.token_counter counts the
    same); a plain prompt (messages == 0) adds nothing.
    """
    overhead = 4 * messages + 3 if messages > 0 else 0
    return sum(count_text(model, text) for text in texts) + overhead


def estimate_completion(model: str | None, texts: list[str]) -> int:
    """Tokens of the reply text pieces `texts`, counted as the one text they make up: a
    stream cuts its pieces anywhere (mid-word in web apps), and counting each piece
    alone would overcount."""
    return count_text(model, "".join(texts))


def _encoding_name_wanted(model: str | None) -> str:
    if not model:
        return DEFAULT_ENCODING
    # "openai/gpt-4o", "azure/gpt-4o", "models/gemini-2.5-flash": the name is the last part.
    # An Azure deployment named freely ("prod-chat") says nothing and gets the default.
    name = model.rsplit("/", 1)[-1].strip().lower()
    import tiktoken.model  # here: a proxy whose calls all report usage never loads tiktoken

    try:
        return tiktoken.model.encoding_name_for_model(name)
    except KeyError:
        pass
    if _MODERN_OPENAI.match(name):
        return "o200k_base"
    return DEFAULT_ENCODING


@functools.cache
def _encoding(name: str) -> tiktoken.Encoding:
    if not _is_bundled(name):
        raise FileNotFoundError(f"no {name} tokenizer file in {_cache_dir()}")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_cache_dir())
    import tiktoken

    return tiktoken.get_encoding(name)


@functools.cache
def _cache_dir() -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    spec = importlib.util.find_spec("litellm")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("litellm is not installed; offgate uses its bundled tokenizers")
    return Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"


def _is_bundled(encoding: str) -> bool:
    url = _BLOB_URL.format(_FILE_OF.get(encoding, encoding))
    return (_cache_dir() / hashlib.sha1(url.encode()).hexdigest()).is_file()
