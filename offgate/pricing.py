"""Cost of a call from LiteLLM's bundled price map, read as JSON (never `import litellm`).

The arithmetic mirrors LiteLLM's `generic_cost_per_token` for text tokens, the path that
`litellm.cost_per_token` takes for OpenAI, Azure, Anthropic, Gemini, Bedrock and most
other providers; a test holds the two equal on samples drawn across the map. Token counts follow
LiteLLM's convention: prompt tokens include cache reads and writes, completion tokens
include reasoning, so those are taken out before their own prices apply.

Rates are chosen the way LiteLLM chooses them:
- `tiered_pricing`: one tier, picked by the prompt size, prices every token of the call;
- `*_above_<N>k_tokens`: past the largest threshold the prompt exceeds, those rates
  replace the base rates (xAI bills from the threshold itself, not just past it);
- `off_peak_pricing`: inside an off-peak window (at the call's time) its rates apply;
- a missing cache-write rate is the input rate, a missing cache-read rate the input
  rate (Fireworks: half of it), a missing reasoning rate the output rate;
- audio tokens (part of the prompt or completion) bill at `input_cost_per_audio_token`
  (or its `_above_<N>k_tokens` variant) and `output_cost_per_audio_token`, else as text.
Service tiers (flex, priority, batch), regional uplifts, cached audio and image or video
tokens are not priced apart: the calls offgate sees report none of them.

Models the map has dropped (`claude-sonnet-4-20250514`, ...) keep their last listed price
from `retired_prices.json` (written by tools/retired_prices.py from earlier litellm wheels),
on every capture path, and the cost's note says so.

The map loads once, lazily (json.load, about 20 ms), each model's entry kept as its compact
JSON (read back when a cost needs it; the recent ones stay read); after that a cost is a few
dict lookups (5-10 us), with each model name resolved to its key once.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from offgate import pricing_basis

if TYPE_CHECKING:
    from offgate.catalog.base import Usage

PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"
RETIRED_PRICES_FILE = "retired_prices.json"

# offgate provider names that differ from LiteLLM's; None: no provider to prefer
# (a gateway's model names are its own aliases).
_LITELLM_PROVIDER: dict[str, str | None] = {
    "litellm": None,
    "vertex": "vertex_ai",
    "together": "together_ai",
    "fireworks": "fireworks_ai",
}

# A trailing release date: OpenAI "-2024-07-18", Anthropic "-20250929", Vertex "@20250929".
_DATE_SUFFIX = re.compile(r"[-@](\d{4}-\d{2}-\d{2}|\d{8})$")

# A version written with a dot where the map dashes it: GitHub Copilot's "claude-sonnet-4.5" is "claude-sonnet-4-5".
_DOTTED_VERSION = re.compile(r"(?<=\d)\.(?=\d)")

# Rates that have "<rate>_above_<N>_tokens" long-context variants.
_THRESHOLD_PREFIXES = (
    "input_cost_per_token_above_",
    "output_cost_per_token_above_",
    "cache_read_input_token_cost_above_",
    "cache_creation_input_token_cost_above_",
    "input_cost_per_audio_token_above_",
)
# Threshold keys ending so belong to a service tier or the batch API, not to standard calls.
_NON_STANDARD_SUFFIXES = ("_auto", "_flex", "_balanced", "_priority", "_fast", "_ultrafast", "_batches")
# Providers whose long-context rates start at the threshold (>=) rather than past it.
_INCLUSIVE_THRESHOLD_PROVIDERS = frozenset({"xai"})
# Providers that bill cached prompt tokens at a share of the input rate when the map
# gives no cache price (Fireworks: half, docs.fireworks.ai/guides/prompt-caching).
_DEFAULT_CACHE_READ_SHARE: dict[str, float] = {"fireworks_ai": 0.5}


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token for each kind of token of one call."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    reasoning: float
    audio_input: float
    audio_output: float


def cost_usd(
    model: str | None, provider: str | None, usage: Usage | None, *, at: datetime | None = None
) -> tuple[float | None, str | None]:
    """(cost, note) for one call at time `at` (default now). The cost is None, with a
    note saying why, when the model has no price or no tokens are known; a note with a
    cost says what it leaves out."""
    if not model:
        return None, "model unknown"
    if usage is None or (usage.prompt_tokens is None and usage.completion_tokens is None):
        return None, "tokens unknown"
    key = find_price_key(model, provider)
    if key is None:
        return None, f"no price for model {model}"
    if not _prices_tokens(price_map()[key]):
        return None, f"no token price for model {model}"
    note = retired_note(key)
    cost = cost_for_key(
        key,
        usage.prompt_tokens or 0,
        usage.completion_tokens or 0,
        cached_tokens=usage.cached_tokens or 0,
        cache_write_tokens=usage.cache_write_tokens or 0,
        reasoning_tokens=usage.reasoning_tokens or 0,
        audio_prompt_tokens=usage.audio_prompt_tokens or 0,
        audio_completion_tokens=usage.audio_completion_tokens or 0,
        at=at,
    )
    if usage.prompt_tokens is None:
        return cost, _joined("prompt tokens unknown", note)
    if usage.completion_tokens is None:
        return cost, _joined("completion tokens unknown", note)
    return cost, note


def retired_note(price_key: str) -> str | None:
    """What a cost priced by a retired model's last known price says, else None."""
    entry = price_map()[price_key]
    if "last_listed" not in entry:
        return None
    return pricing_basis.retired_note(entry["last_listed_in"], entry["last_listed"])


def _joined(*notes: str | None) -> str | None:
    return "; ".join(note for note in notes if note) or None


def cost_for_key(
    price_key: str,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
    audio_prompt_tokens: int = 0,
    audio_completion_tokens: int = 0,
    *,
    at: datetime | None = None,
) -> float:
    """USD for tokens of a call priced by the price-map entry `price_key` (KeyError if
    there is none), at time `at` (default now). Audio is counted among the uncached prompt
    and the visible (non-reasoning) completion tokens, and never beyond them."""
    rates = _rates(price_key, prompt_tokens, at)
    uncached_prompt = max(prompt_tokens - cached_tokens - cache_write_tokens, 0)
    audio_prompt = min(audio_prompt_tokens, uncached_prompt)
    visible_completion = max(completion_tokens - reasoning_tokens, 0)
    audio_completion = min(audio_completion_tokens, visible_completion)
    return (
        (uncached_prompt - audio_prompt) * rates.input
        + audio_prompt * rates.audio_input
        + cached_tokens * rates.cache_read
        + cache_write_tokens * rates.cache_write
        + (visible_completion - audio_completion) * rates.output
        + audio_completion * rates.audio_output
        + reasoning_tokens * rates.reasoning
    )


@functools.lru_cache(maxsize=4096)
def find_price_key(model: str, provider: str | None) -> str | None:
    """The price-map key for a model name as captured, or None.

    Tried in order, case-insensitively: the name with the provider's prefix
    ("gemini/gemini-2.5-flash", "azure/gpt-4o"), the name itself, then both again for
    the name without a leading "<provider>/" and without a trailing release date. Of
    the keys found, the first whose entry belongs to the provider wins, else the first.
    Only when none is found: all of it again with a dotted version dashed.
    """
    litellm_provider = _LITELLM_PROVIDER.get(provider, provider) if provider else None
    name = model.strip().removeprefix("models/")  # Gemini's resource name
    bases = [name]
    if "/" in name:
        bases.append(name.split("/", 1)[1])
    bases += [dateless for base in bases if (dateless := without_release_date(base)) != base]

    candidates = []
    for base in bases:
        if litellm_provider:
            candidates.append(f"{litellm_provider}/{base}")
        candidates.append(base)
    found = list(dict.fromkeys(key for c in candidates if (key := _key_in_any_case(c.lower())) is not None))
    if not found:
        dashed = _DOTTED_VERSION.sub("-", name)
        return find_price_key(dashed, provider) if dashed != name else None
    return next((key for key in found if _belongs_to(key, litellm_provider)), found[0])


def without_release_date(model: str) -> str:
    """The model name without a trailing release date ("gpt-4o-mini-2024-07-18" -> "gpt-4o-mini")."""
    return _DATE_SUFFIX.sub("", model)


def _rates(price_key: str, prompt_tokens: int, at: datetime | None) -> Rates:
    """The per-token rates an entry bills a call with `prompt_tokens` at."""
    entry = price_map()[price_key]
    tier = _pricing_tier(entry, prompt_tokens)
    if tier is not None:
        input_rate = _rate(tier, "input_cost_per_token", 0.0)
        output_rate = _rate(tier, "output_cost_per_token", _rate(entry, "output_cost_per_token", 0.0))
        cache_read = _rate(tier, "cache_read_input_token_cost", input_rate)
        cache_write = _rate(tier, "cache_creation_input_token_cost", input_rate)
    else:
        input_rate, output_rate, cache_read, cache_write = _long_context_rates(price_key, prompt_tokens)

    off_peak = _open_off_peak_block(entry, at) or {}
    input_rate = _rate(off_peak, "input_cost_per_token", input_rate)
    output_rate = _rate(off_peak, "output_cost_per_token", output_rate)
    cache_read = _rate(off_peak, "cache_read_input_token_cost", cache_read)
    cache_write = _rate(off_peak, "cache_creation_input_token_cost", cache_write)
    # A provider that publishes no cache price bills cached tokens as ordinary input.
    if cache_read is None:
        cache_read = input_rate * _DEFAULT_CACHE_READ_SHARE.get(entry.get("litellm_provider", ""), 1.0)
    if cache_write is None:
        cache_write = input_rate

    # Reasoning: the off-peak rate, else the tier's, else the entry's, else the output rate.
    reasoning = _rate(off_peak, "output_cost_per_reasoning_token")
    if reasoning is None and tier is not None and (
        "output_cost_per_reasoning_token" in tier or "output_cost_per_token" in tier
    ):
        tier_output = _rate(tier, "output_cost_per_token", 0.0)
        reasoning = _rate(tier, "output_cost_per_reasoning_token", tier_output)
    if reasoning is None:
        reasoning = _rate(entry, "output_cost_per_reasoning_token", output_rate)

    # Audio: the entry's own rate (past the largest threshold the prompt passes), else as text.
    audio_input = _rate(entry, "input_cost_per_audio_token")
    for label in _passed_thresholds(price_key, prompt_tokens):
        audio_input = _rate(entry, f"input_cost_per_audio_token_above_{label}_tokens", audio_input)
    audio_output = _rate(entry, "output_cost_per_audio_token", output_rate)
    return Rates(input_rate, output_rate, cache_read, cache_write, reasoning,
                 input_rate if audio_input is None else audio_input, audio_output)


@functools.cache
def price_map() -> Mapping[str, dict[str, Any]]:
    """LiteLLM's bundled price map, with the retired models' last known prices beside its
    own (an entry from there has `last_listed`), loaded once."""
    with open(Path(__file__).with_name(RETIRED_PRICES_FILE), encoding="utf-8") as file:
        retired = _Entries(json.load(file, object_hook=_as_text)["models"])
    return _Entries({**retired.texts, **current_price_map().texts})


@functools.cache
def current_price_map() -> _Entries:
    """LiteLLM's bundled price map alone, loaded once, each model's entry with the fields
    offgate reads only (_KEPT_FIELDS)."""
    with open(_litellm_dir() / PRICE_MAP_FILE, encoding="utf-8") as file:
        entries = _Entries(json.load(file, object_hook=lambda entry: _as_text(_kept_fields(entry))))
    entries.texts.pop("sample_spec", None)  # documents the fields, prices nothing
    return entries


class _EntryText(str):
    """A model's entry as its compact JSON (made as the map is read)."""

    __slots__ = ()


def _as_text(entry: dict[str, Any]) -> dict[str, Any] | _EntryText:
    """As the JSON is read, what names a provider (a model's entry) becomes its compact text;
    _Entries reads back any that was not a top-level entry."""
    if "litellm_provider" not in entry:  # a pricing tier or window, or the top level
        return entry
    return _EntryText(json.dumps(entry, separators=(",", ":")))


def _read_back(value: Any) -> Any:
    """`value` with every _EntryText in it read back."""
    if isinstance(value, _EntryText):
        return json.loads(value)
    if isinstance(value, dict):
        return {key: _read_back(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_read_back(item) for item in value]
    return value


class _Entries(Mapping[str, dict[str, Any]]):
    """Model entries kept as their compact JSON and read back when asked for: the proxy holds
    the map all day, and as text its 5,000 entries take half the memory (issue 17). A top-level
    value that names no provider is kept as read (what it holds that does, read back)."""

    __slots__ = ("texts",)

    def __init__(self, texts: dict[str, Any]) -> None:
        self.texts: dict[str, Any] = {key: value if isinstance(value, _EntryText) else _read_back(value)
                                      for key, value in texts.items()}

    def __getitem__(self, key: str) -> dict[str, Any]:
        entry = self.texts[key]
        return _entry(entry) if isinstance(entry, _EntryText) else entry

    def __contains__(self, key: object) -> bool:
        return key in self.texts

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)

    def __len__(self) -> int:
        return len(self.texts)


@functools.lru_cache(maxsize=256)
def _entry(text: str) -> dict[str, Any]:
    """An entry read back; the same dict while it is among the recent ones (a cost reads its
    model's entry several times)."""
    return json.loads(text)


# Beside every field that names a cost or a pricing scheme: what offgate reads of an entry.
_KEPT_FIELDS = frozenset({"litellm_provider", "mode", "max_tokens", "max_output_tokens"})


def _kept_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """As the JSON is read, a model's entry (it names its provider) loses its context sizes
    and feature flags: the proxy holds the map all day, and they are 60% of it (issue 17)."""
    if "litellm_provider" not in entry:  # a pricing tier or window, or the top level
        return entry
    return {field: value for field, value in entry.items()
            if "cost" in field or "pricing" in field or field in _KEPT_FIELDS}


# -- key resolution ------------------------------------------------------------------


def _key_in_any_case(lowered: str) -> str | None:
    """The map's key that is `lowered` in lower case (the last one, if several are)."""
    key = _keys_not_lowercase().get(lowered)
    if key is None and lowered in price_map():
        return lowered
    return key


@functools.cache
def _keys_not_lowercase() -> dict[str, str]:
    """By their lower case, the keys a lower-case name would miss, and any key that a later
    one spells the same in lower case: most keys are lower case already (issue 17: memory)."""
    index: dict[str, str] = {}
    for key in price_map():
        lowered = key.lower()
        if lowered != key or lowered in index:
            index[lowered] = key
    return index


def _belongs_to(key: str, litellm_provider: str | None) -> bool:
    if litellm_provider is None:
        return False
    owner = price_map()[key].get("litellm_provider") or ""
    # "vertex_ai-language-models" belongs to "vertex_ai".
    return owner == litellm_provider or owner.startswith(litellm_provider + "-")


def _prices_tokens(entry: Mapping[str, Any]) -> bool:
    return any(key in entry for key in ("input_cost_per_token", "output_cost_per_token", "tiered_pricing"))


# -- rate selection ------------------------------------------------------------------


def _rate(prices: Mapping[str, Any], key: str, default: Any = None) -> Any:
    value = prices.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


def _pricing_tier(entry: Mapping[str, Any], prompt_tokens: int) -> Mapping[str, Any] | None:
    """The tier whose range (start, end] holds the prompt size, else the last tier;
    a tier without an input rate does not count."""
    tiers = entry.get("tiered_pricing")
    if not isinstance(tiers, list) or prompt_tokens <= 0:
        return None
    ranged = sorted(
        (tier for tier in tiers if isinstance(tier, dict) and _is_range(tier.get("range"))),
        key=lambda tier: tier["range"][0],
    )
    if not ranged:
        return None
    tier = next((t for t in ranged if t["range"][0] < prompt_tokens <= t["range"][1]), ranged[-1])
    return tier if "input_cost_per_token" in tier else None


def _is_range(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(bound, (int, float)) and not isinstance(bound, bool) for bound in value)
    )


def _long_context_rates(
    price_key: str, prompt_tokens: int
) -> tuple[float, float, float | None, float | None]:
    """Base rates, replaced by each `_above_<N>_tokens` rate the prompt qualifies for
    (ascending, so the largest threshold passed wins)."""
    entry = price_map()[price_key]
    input_rate = _rate(entry, "input_cost_per_token", 0.0)
    output_rate = _rate(entry, "output_cost_per_token", 0.0)
    cache_read = _rate(entry, "cache_read_input_token_cost")
    cache_write = _rate(entry, "cache_creation_input_token_cost")
    for label in _passed_thresholds(price_key, prompt_tokens):
        input_rate = _rate(entry, f"input_cost_per_token_above_{label}_tokens", input_rate)
        output_rate = _rate(entry, f"output_cost_per_token_above_{label}_tokens", output_rate)
        cache_read = _rate(entry, f"cache_read_input_token_cost_above_{label}_tokens", cache_read)
        cache_write = _rate(entry, f"cache_creation_input_token_cost_above_{label}_tokens", cache_write)
    return input_rate, output_rate, cache_read, cache_write


def _passed_thresholds(price_key: str, prompt_tokens: int) -> list[str]:
    """The labels of the entry's long-context thresholds that `prompt_tokens` passes, ascending."""
    inclusive = price_map()[price_key].get("litellm_provider") in _INCLUSIVE_THRESHOLD_PROVIDERS
    return [label for threshold, label in _thresholds(price_key)
            if prompt_tokens > threshold or (inclusive and prompt_tokens == threshold)]


@functools.lru_cache(maxsize=4096)
def _thresholds(price_key: str) -> tuple[tuple[float, str], ...]:
    """(token count, label as written) of the entry's standard long-context thresholds."""
    found = []
    for key, value in price_map()[price_key].items():
        if (
            value is None
            or not key.startswith(_THRESHOLD_PREFIXES)
            or "_tokens" not in key
            or key.endswith(_NON_STANDARD_SUFFIXES)
        ):
            continue
        label = key.rsplit("_above_", 1)[1].split("_tokens")[0]
        try:
            found.append((float(label.removesuffix("k")) * (1000 if label.endswith("k") else 1), label))
        except ValueError:
            continue
    return tuple(sorted(found, key=lambda threshold: threshold[0]))


# -- off-peak windows ----------------------------------------------------------------


def _open_off_peak_block(entry: Mapping[str, Any], at: datetime | None) -> Mapping[str, Any] | None:
    """The entry's off_peak_pricing block if `at` falls in one of its windows: flat
    `hours_utc` windows apply every day, `windows` rules only on their ISO weekdays
    (1 = Monday), read in `weekday_timezone` (default UTC)."""
    block = entry.get("off_peak_pricing")
    if not isinstance(block, dict):
        return None
    moment = at or datetime.now(UTC)
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)  # naive is UTC
    if _in_windows(block.get("hours_utc"), moment):
        return block
    weekday = moment.astimezone(_zone(block.get("weekday_timezone"))).isoweekday()
    for rule in block.get("windows") or ():
        if (isinstance(rule, dict) and _weekday_matches(rule.get("weekdays"), weekday)
                and _in_windows(rule.get("hours_utc"), moment)):
            return block
    return None


def _zone(name: Any) -> tzinfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) and name.strip() else UTC
    except (ValueError, ZoneInfoNotFoundError):
        return UTC


def _weekday_matches(weekdays: Any, weekday: int) -> bool:
    return weekdays is None or (isinstance(weekdays, list) and weekday in weekdays)


def _in_windows(windows: Any, moment: datetime) -> bool:
    """Whether `moment` lies in any "HH:MM-HH:MM" UTC window (start inclusive, end
    exclusive; a window may wrap past midnight, and start == end is the whole day)."""
    if isinstance(windows, str):
        windows = [windows]
    if not isinstance(windows, list):
        return False
    now = moment.time().replace(tzinfo=None)
    for window in windows:
        try:
            start, end = (datetime.strptime(part.strip(), "%H:%M").time() for part in window.split("-"))
        except (ValueError, AttributeError):
            continue
        if (start <= now < end) if start < end else (now >= start or now < end):
            return True
    return False


def _litellm_dir() -> Path:
    spec = importlib.util.find_spec("litellm")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("litellm is not installed; offgate reads its bundled price map")
    return Path(next(iter(spec.submodule_search_locations)))


def rates_for(model: str, provider: str | None) -> Rates | None:
    """The list rates of a model (short prompts, standard tier), None if the map has none."""
    key = find_price_key(model, provider)
    if key is None or not _prices_tokens(price_map()[key]):
        return None
    return _rates(key, 0, None)
