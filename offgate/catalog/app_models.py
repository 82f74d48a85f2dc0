"""Which API model prices a call made through a subscription app.

Web apps (ChatGPT, claude.ai, Gemini...) and tools paid by seat (GitHub Copilot,
JetBrains AI) bill no tokens, so their cost is an API-equivalent estimate: what the
same tokens would cost at the API price of the model the app used. Each app's table
maps the model name the app sends (its "slug") to an API model in LiteLLM's price map;
a slug missing from the table is priced as an API model of the app's vendor when
LiteLLM knows it by that name, and an app that names no model is priced as its
default. Rows say where the name comes from or what is assumed.

The estimate leaves out what the app never shows: the conversation history a web app
sends to the model on its side (only the new message is seen), system prompts, tools
and hidden reasoning; it undercounts long conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class ApiModel:
    """A model as LiteLLM prices it: its name and the provider whose price applies
    (None: the name alone finds it); `note` says what was assumed to choose it."""

    model: str
    provider: str | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class AppModels:
    vendor: str | None  # the API provider of slugs not in `slugs`
    default: ApiModel | None  # the model of calls that name none
    slugs: dict[str, ApiModel] = field(default_factory=dict[str, ApiModel])
    # The app's slugs are modes, not API model names (Gemini's): one not in `slugs` is
    # priced as the default, and the note says so.
    unknown_as_default: bool = False


def _openai(model: str) -> ApiModel:
    return ApiModel(model, "openai")


def _anthropic(model: str) -> ApiModel:
    return ApiModel(model, "anthropic")


APPS: dict[str, AppModels] = {
    # Slugs from gpt4free g4f/Provider/openai/models.py and captured streams
    # (metadata.model_slug); "auto" lets ChatGPT route, to GPT-5 since August 2025.
    "chatgpt": AppModels(vendor="openai", default=_openai("gpt-5"), slugs={
        "auto": _openai("gpt-5"),
        "gpt-5": _openai("gpt-5"),
        "gpt-5-instant": _openai("gpt-5-chat-latest"),  # the non-reasoning variant ChatGPT serves
        "gpt-5-thinking": _openai("gpt-5"),
        "gpt-5-t-mini": _openai("gpt-5-mini"),  # "thinking mini"
        "gpt-5-mini": _openai("gpt-5-mini"),
        "gpt-5-1": _openai("gpt-5.1"),
        "gpt-5-2": _openai("gpt-5.2"),
        "gpt-4o": _openai("gpt-4o"),
        "gpt-4o-mini": _openai("gpt-4o-mini"),
        "gpt-4-1": _openai("gpt-4.1"),
        "gpt-4-1-mini": _openai("gpt-4.1-mini"),
        "o3": _openai("o3"),
        "o3-mini": _openai("o3-mini"),
        "o3-pro": _openai("o3-pro"),
        "o4-mini": _openai("o4-mini"),
        "text-davinci-002-render-sha": _openai("gpt-3.5-turbo"),  # the old free model's slug
    }),
    # claude.ai sends API model ids ("claude-sonnet-4-6") when it names one; the default
    # model of the app is Sonnet (assumption: Sonnet 4.5 pricing).
    "claude-web": AppModels(vendor="anthropic", default=_anthropic("claude-sonnet-4-5")),
    # The mode gemini_web.py reads from the request (its model header, else field 79).
    # Each family is priced as its Gemini 2.5 API model (assumption: the version the app
    # serves is not on the wire); calls naming no mode, or one not known, as Flash, the
    # free default.
    "gemini-web": AppModels(
        vendor=None, default=ApiModel("gemini-2.5-flash", "gemini"), unknown_as_default=True, slugs={
            "flash": ApiModel("gemini-2.5-flash", "gemini"),
            "flash-thinking": ApiModel("gemini-2.5-flash", "gemini"),  # thoughts bill as output, as in the API
            "flash-lite": ApiModel("gemini-2.5-flash-lite", "gemini"),
            "pro": ApiModel("gemini-2.5-pro", "gemini"),
        }),
    # params.model_preference values from gpt4free g4f/Provider/Perplexity.py. Perplexity's
    # own models are priced as its Sonar API (assumption).
    "perplexity-web": AppModels(vendor="perplexity", default=ApiModel("sonar", "perplexity"), slugs={
        "auto": ApiModel("sonar", "perplexity"),
        "turbo": ApiModel("sonar", "perplexity"),
        "pplx_pro": ApiModel("sonar-pro", "perplexity"),
        "pplx_reasoning": ApiModel("sonar-reasoning", "perplexity"),
        "gpt5": _openai("gpt-5"),
        "gpt5_thinking": _openai("gpt-5"),
        "gpt41": _openai("gpt-4.1"),
        "gpt4o": _openai("gpt-4o"),
        "o3": _openai("o3"),
        "o4mini": _openai("o4-mini"),
        "claude45sonnet": _anthropic("claude-sonnet-4-5"),
        "claude45sonnetthinking": _anthropic("claude-sonnet-4-5"),
        "r1": ApiModel("deepseek-reasoner", "deepseek"),
    }),
    # Le Chat names a model only in some builds ("mistral-large", ChatALL); by default it
    # runs Mistral's flagship chat model (assumption: Mistral Medium).
    "le-chat": AppModels(vendor="mistral", default=ApiModel("mistral-medium-latest", "mistral"), slugs={
        "mistral-large": ApiModel("mistral-large-latest", "mistral"),
        "mistral-medium": ApiModel("mistral-medium-latest", "mistral"),
    }),
    # The web app serves the models of DeepSeek's API; DeepThink is its reasoning mode.
    "deepseek-web": AppModels(vendor="deepseek", default=ApiModel("deepseek-chat", "deepseek"), slugs={
        "deepthink": ApiModel("deepseek-reasoner", "deepseek"),
    }),
    # modeId values from gpt4free needs_auth/Grok.py; every mode is priced as Grok 4.3
    # (assumption: the app's current model family; "heavy" runs several agents and costs more).
    "grok-web": AppModels(vendor="xai", default=ApiModel("grok-4.3", "xai"), slugs={
        mode: ApiModel("grok-4.3", "xai") for mode in ("auto", "fast", "expert", "heavy", "reasoning")
    }),
    # Meta AI names no model; it runs Llama 4 (assumption: Maverick, at Azure AI's price,
    # as LiteLLM lists no price for Meta's own Llama API).
    "meta-ai": AppModels(vendor=None, default=ApiModel("Llama-4-Maverick-17B-128E-Instruct-FP8", "azure_ai")),
    # Poe bot handles and the codenames its update channel names bots by (case-insensitive;
    # codenames from snowby666/poe-api-wrapper utils.py BOTS_LIST); bots without a row are
    # priced by their own name when LiteLLM knows it, and no default: Poe hosts thousands of bots.
    "poe": AppModels(vendor=None, default=None, slugs={
        "gpt-4o": _openai("gpt-4o"),
        "gpt4_o": _openai("gpt-4o"),
        "gpt4_o_128k": _openai("gpt-4o"),
        "chinchilla": _openai("gpt-3.5-turbo"),  # "ChatGPT"
        "gpt3_5": _openai("gpt-3.5-turbo"),
        "beaver": _openai("gpt-4-turbo"),  # "GPT-4-Turbo"
        "vizcacha": _openai("gpt-4-turbo"),  # "GPT-4-Turbo-128k"
        "gpt4_classic": _openai("gpt-4"),
        "gpt-5": _openai("gpt-5"),
        "claude-sonnet-4.5": _anthropic("claude-sonnet-4-5"),
        "claude-opus-4.5": _anthropic("claude-opus-4-5"),
        "gemini-2.5-pro": ApiModel("gemini-2.5-pro", "gemini"),
    }),
    # HuggingChat serves open models named by Hugging Face repo ids; priced by that name
    # when LiteLLM knows it, else not at all.
    "huggingchat": AppModels(vendor=None, default=None),
    # Microsoft Copilot's modes (the `mode` of each message sent), as gpt4free's
    # g4f/Provider/Copilot.py maps them: "Copilot" (gpt-4o), "Think Deeper" (o1), "Smart (GPT-5)".
    "microsoft-copilot": AppModels(vendor=None, default=_openai("gpt-4o"), slugs={
        "chat": _openai("gpt-4o"),
        "reasoning": _openai("o1"),
        "smart": _openai("gpt-5"),
    }),
    # Copilot sends API model names ("gpt-4.1", "claude-sonnet-4") and reports usage.
    "github-copilot": AppModels(vendor=None, default=None),
    # JetBrains AI profiles, from caidaoli/jetbrainsai2api and JetBrains' Grazie client.
    "jetbrains-ai": AppModels(vendor=None, default=None, slugs={
        "openai-gpt-4o": _openai("gpt-4o"),
        "openai-gpt4.1": _openai("gpt-4.1"),
        "openai-o3": _openai("o3"),
        "openai-o4-mini": _openai("o4-mini"),
        "openai-gpt-5": _openai("gpt-5"),
        # Claude 3.7 and 4 Sonnet left LiteLLM's map; their successor at the same price.
        "anthropic-claude-3.7-sonnet": _anthropic("claude-sonnet-4-5"),
        "anthropic-claude-4-sonnet": _anthropic("claude-sonnet-4-5"),
        "anthropic-claude-4-5-sonnet": _anthropic("claude-sonnet-4-5"),
        "google-chat-gemini-pro-2.5": ApiModel("gemini-2.5-pro", "gemini"),
    }),
}


def api_model(app: str, slug: str | None) -> ApiModel | None:
    """The API model that prices a call of `app` naming `slug`, or None when `app` is
    not a subscription app (its calls are priced as they are) or nothing fits."""
    models = APPS.get(app)
    if models is None:
        return None
    if not slug:
        return models.default
    found = models.slugs.get(slug.lower())
    if found is None and models.unknown_as_default and models.default is not None:
        return replace(models.default, note=f"model {slug} not recognised, priced as the app's default")
    return found or ApiModel(slug, models.vendor)
