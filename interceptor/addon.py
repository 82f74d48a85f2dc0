"""The offgate interceptor as mitmproxy addons, one job each.

    HomeConfig          offgate_home's config.toml -> the options' defaults (read once)
    DecryptPolicy       offgate_gateways, offgate_decrypt_only_catalog -> allow_hosts, the catalog
    TLSFallback         clients that refuse the certificate pass through, counted
    Recorder            HTTP and WebSocket calls -> journal -> store
    PolicyGate          offgate_policy -> direct calls under block refused, under coach marked
    GatewayContext      gateway calls -> x-offgate-device/-app/-user headers for LiteLLM's logs
    ProcessAttribution  which process sent each client connection

`offgate proxy` adds `offgate_addons()` to its master; `mitmdump -s interceptor/addon.py`
loads the same list from this file. Options are the one way settings reach them.
"""

from __future__ import annotations

from typing import Any

from interceptor.attribution import ProcessCache
from interceptor.client_processes import ProcessAttribution
from interceptor.decrypt_policy import DecryptPolicy
from interceptor.fail_open import FailOpen
from interceptor.gateway_context import GatewayContext
from interceptor.home_config import HomeConfig
from interceptor.policy_gate import PolicyGate
from interceptor.recorder import Recorder
from interceptor.tls_fallback import TLSFallback


def offgate_addons() -> list[Any]:
    """The addons in the order mitmproxy must call them: the config first, so the others
    configure with its values; process attribution last, so its lookups outlive the
    recorder's flush when mitmproxy shuts down."""
    processes = ProcessCache()
    fail_open = FailOpen()
    policy = DecryptPolicy()
    return [
        HomeConfig(),
        policy,
        TLSFallback(processes, fail_open),
        Recorder(policy, processes, fail_open),
        PolicyGate(processes, fail_open),  # after the recorder, which reads the request's model
        GatewayContext(processes, fail_open),
        ProcessAttribution(processes, fail_open),
    ]


if __name__ != "interceptor.addon":
    # Loaded as a script (`mitmdump -s interceptor/addon.py`): mitmproxy picks this up. The
    # runner imports the module by its name and adds the addons itself, so none are made then.
    addons = offgate_addons()
