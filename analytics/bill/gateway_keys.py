"""The provider keys the gateway itself uses upstream, from LiteLLM's config.yaml.

Each deployment in `model_list` names its upstream model (`litellm_params.model`,
"openai/gpt-4o-mini") and key (`litellm_params.api_key`, the key itself or
"os.environ/NAME"). The keys are read into memory only to take their hint and salted
fingerprint; neither the config nor the keys are stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from analytics.bill.source import BillInputError
from offgate.config import Settings
from offgate.fingerprint import key_fingerprint, key_hint, load_salt

ENVIRONMENT_REFERENCE = "os.environ/"


@dataclass(frozen=True, slots=True)
class GatewayKey:
    """One upstream key of the gateway: which provider, the upstream models it serves, and the
    key as offgate may know it."""

    provider: str
    models: frozenset[str]
    hint: str | None
    fingerprint: str


def gateway_keys(config: Path, salt: bytes) -> list[GatewayKey]:
    """The gateway's upstream keys, one per provider and key, from LiteLLM's config file."""
    try:
        document = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BillInputError(f"cannot read LiteLLM's config {config}: {exc}") from None
    deployments = document.get("model_list") if isinstance(document, dict) else None
    if not isinstance(deployments, list):
        raise BillInputError(f"{config} has no model_list: is it LiteLLM's config.yaml?")
    found: dict[tuple[str, str], set[str]] = {}
    for deployment in deployments:
        params: Any = deployment.get("litellm_params") if isinstance(deployment, dict) else None
        if not isinstance(params, dict) or not isinstance(params.get("model"), str):
            continue
        provider, _, model = str(params["model"]).partition("/")
        key = _resolve(params.get("api_key"), provider)
        if key and model:
            found.setdefault((provider, key), set()).add(model)
    return [GatewayKey(provider, frozenset(models), key_hint(key), key_fingerprint(key, salt))
            for (provider, key), models in found.items()]


def configured_gateway_keys(settings: Settings, home: Path) -> list[GatewayKey]:
    """The gateway's keys from the config named by `reconcile.litellm_config`; none if it names none."""
    config = settings.reconcile.litellm_config
    return gateway_keys(config, load_salt(home)) if config is not None else []


def _resolve(value: Any, provider: str) -> str | None:
    """The key a deployment uses: its own, an environment variable it names, or LiteLLM's
    default for the provider (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)."""
    if isinstance(value, str) and value.startswith(ENVIRONMENT_REFERENCE):
        return os.environ.get(value.removeprefix(ENVIRONMENT_REFERENCE)) or None
    if isinstance(value, str) and value:
        return value
    return os.environ.get(f"{provider.upper()}_API_KEY") or None
