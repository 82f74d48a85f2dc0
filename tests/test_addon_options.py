"""Each addon's `configure`, as mitmproxy tests its own (taddons): valid values, bad ones
(an OptionsError naming the option, nothing changed), and changes while running."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from pathlib import Path

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow, tutils

from interceptor.attribution import ProcessCache
from interceptor.calls import InterceptedCall
from interceptor.decrypt_policy import DecryptPolicy
from interceptor.fail_open import FailOpen
from interceptor.home_config import HomeConfig
from interceptor.policy_gate import PolicyGate, provider_error
from interceptor.tls_fallback import TLSFallback
from offgate.catalog.registry import Catalog
from offgate.metering import ResponseMeter

GATEWAY = "https://litellm.example.com"
CHAT = "/v1/chat/completions"


@pytest.fixture(autouse=True)
def no_offgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test's config.toml alone."""
    for name in [name for name in os.environ if name.startswith("OFFGATE_")]:
        monkeypatch.delenv(name)


def decrypted(allow_hosts: list[str], host_and_port: str) -> bool:
    return any(re.search(pattern, host_and_port) for pattern in allow_hosts)


def write_config(home: Path, text: str) -> Path:
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")
    return home


# -- DecryptPolicy ---------------------------------------------------------------------------


def test_decrypt_policy_decrypts_the_catalog_and_the_gateways_only():
    policy = DecryptPolicy()
    with taddons.context(policy) as tctx:
        tctx.configure(policy, offgate_gateways=[GATEWAY])
        assert policy.catalog.lookup("litellm.example.com", 443, CHAT).route == "gateway"
        assert policy.catalog.lookup("api.openai.com", 443, CHAT).route == "direct"
        allowed = tctx.options.allow_hosts
        assert decrypted(allowed, "litellm.example.com:443") and decrypted(allowed, "api.openai.com:443")
        assert not decrypted(allowed, "example.org:443")


def test_a_bad_gateway_is_refused_by_name_and_changes_nothing():
    policy = DecryptPolicy()
    with taddons.context(policy) as tctx:
        tctx.configure(policy, offgate_gateways=[GATEWAY])
        allowed = tctx.options.allow_hosts
        with pytest.raises(exceptions.OptionsError, match=r"^offgate_gateways: gateway URL 'ftp://x' must be http"):
            tctx.configure(policy, offgate_gateways=["ftp://x"])
        assert tctx.options.offgate_gateways == [GATEWAY] and tctx.options.allow_hosts == allowed
        assert policy.catalog.lookup("litellm.example.com", 443, CHAT).route == "gateway"


def test_turning_the_decrypt_policy_off_gives_allow_hosts_back():
    policy = DecryptPolicy()
    with taddons.context(policy) as tctx:
        tctx.configure(policy, offgate_gateways=[GATEWAY])
        tctx.configure(policy, offgate_decrypt_only_catalog=False)
        assert tctx.options.allow_hosts == []  # everything decrypted, as plain mitmproxy does
        tctx.configure(policy, offgate_decrypt_only_catalog=True)
        assert decrypted(tctx.options.allow_hosts, "litellm.example.com:443")
        # Someone else's allow_hosts is theirs: turning offgate's policy off leaves it alone.
        tctx.options.allow_hosts = ["^intranet\\.example\\.com:443$"]
        tctx.configure(policy, offgate_decrypt_only_catalog=False)
        assert tctx.options.allow_hosts == ["^intranet\\.example\\.com:443$"]


def test_new_gateways_move_allow_hosts_along():
    policy = DecryptPolicy()
    with taddons.context(policy) as tctx:
        tctx.configure(policy, offgate_gateways=[GATEWAY])
        tctx.configure(policy, offgate_gateways=["http://10.0.0.5:4000"])
        assert decrypted(tctx.options.allow_hosts, "10.0.0.5:4000")
        assert not decrypted(tctx.options.allow_hosts, "litellm.example.com:443")
        assert policy.catalog.lookup("litellm.example.com", 443, CHAT) is None


# -- HomeConfig ------------------------------------------------------------------------------


def test_the_homes_config_toml_gives_the_options_their_values(tmp_path):
    home = write_config(tmp_path / "home", f'[proxy]\ngateways = ["{GATEWAY}"]\n[device]\nname = "build-box-7"\n')
    config, policy = HomeConfig(), DecryptPolicy()
    with taddons.context(config, policy) as tctx:
        tctx.configure(config, offgate_home=str(home))
        assert (tctx.options.offgate_gateways, tctx.options.offgate_device, tctx.options.offgate_database_url) == (
            [GATEWAY], "build-box-7", f"sqlite:///{home / 'offgate.db'}")
        # The decrypt policy has the gateway from the file.
        assert policy.catalog.lookup("litellm.example.com", 443, CHAT).route == "gateway"
        assert decrypted(tctx.options.allow_hosts, "litellm.example.com:443")


def test_without_a_config_toml_the_defaults_are_the_hostname_and_sqlite_in_the_home(tmp_path):
    config = HomeConfig()
    with taddons.context(config, DecryptPolicy()) as tctx:
        tctx.configure(config, offgate_home=str(tmp_path))
        assert (tctx.options.offgate_gateways, tctx.options.offgate_device, tctx.options.offgate_database_url) == (
            [], socket.gethostname(), f"sqlite:///{tmp_path / 'offgate.db'}")


def test_an_empty_home_is_offgate_home_resolved_and_written_back(tmp_path, monkeypatch):
    home = write_config(tmp_path / "from-env", '[device]\nname = "env-box"\n')
    monkeypatch.setenv("OFFGATE_HOME", str(home))
    config = HomeConfig()
    with taddons.context(config, DecryptPolicy()) as tctx:
        tctx.configure(config, offgate_home="")
        assert (tctx.options.offgate_home, tctx.options.offgate_device) == (str(home), "env-box")


def test_a_value_set_as_an_option_wins_over_config_toml(tmp_path):
    home = write_config(tmp_path / "home", f'[proxy]\ngateways = ["{GATEWAY}"]\n[device]\nname = "from-file"\n')
    config = HomeConfig()
    with taddons.context(config, DecryptPolicy()) as tctx:
        # As `mitmdump --set offgate_device=... --set offgate_home=...`: one update.
        tctx.options.update(offgate_device="from-option", offgate_gateways=["http://10.0.0.5:4000"],
                            offgate_home=str(home))
        assert (tctx.options.offgate_device, tctx.options.offgate_gateways) == (
            "from-option", ["http://10.0.0.5:4000"])


def test_another_home_brings_its_own_config_and_keeps_what_was_set(tmp_path):
    first = write_config(tmp_path / "first", '[device]\nname = "first-box"\n')
    second = write_config(tmp_path / "second", f'[proxy]\ngateways = ["{GATEWAY}"]\n[device]\nname = "second-box"\n')
    config = HomeConfig()
    with taddons.context(config, DecryptPolicy()) as tctx:
        tctx.configure(config, offgate_home=str(first), offgate_database_url="sqlite:////var/lib/shared.db")
        tctx.configure(config, offgate_home=str(second))
        assert (tctx.options.offgate_device, tctx.options.offgate_gateways, tctx.options.offgate_database_url) == (
            "second-box", [GATEWAY], "sqlite:////var/lib/shared.db")


def test_a_broken_config_toml_is_refused_naming_the_home_and_the_file(tmp_path):
    home = write_config(tmp_path / "home", "[proxy\n")
    config = HomeConfig()
    with taddons.context(config, DecryptPolicy()) as tctx:
        with pytest.raises(exceptions.OptionsError, match=rf"^offgate_home: {re.escape(str(home))}/config.toml: not "
                                                         "valid TOML"):
            tctx.configure(config, offgate_home=str(home))
        assert tctx.options.offgate_home == "" and tctx.options.offgate_device == ""


def test_a_bad_gateway_in_config_toml_is_refused_by_name(tmp_path):
    home = write_config(tmp_path / "home", '[proxy]\ngateways = ["litellm.example.com"]\n')
    config = HomeConfig()
    with taddons.context(config, DecryptPolicy()) as tctx:
        with pytest.raises(exceptions.OptionsError, match=r"^offgate_gateways: gateway URL 'litellm.example.com'"):
            tctx.configure(config, offgate_home=str(home))
        assert tctx.options.offgate_gateways == []


def test_an_unsupported_database_url_is_refused_by_name_without_its_password():
    config = HomeConfig()
    with taddons.context(config) as tctx:
        with pytest.raises(exceptions.OptionsError, match=r"^offgate_database_url: database_url "
                                                         r"'mysql://offgate:\*\*\*@db/offgate' is not supported"):
            tctx.configure(config, offgate_database_url="mysql://offgate:s3cret@db/offgate")
        assert tctx.options.offgate_database_url == ""


# -- TLSFallback -----------------------------------------------------------------------------


def test_passthrough_minutes_take_zero_and_refuse_a_negative_by_name():
    fallback = TLSFallback(ProcessCache(), FailOpen())
    with taddons.context(fallback) as tctx:
        tctx.configure(fallback, offgate_passthrough_minutes=0)
        assert tctx.options.offgate_passthrough_minutes == 0
        with pytest.raises(exceptions.OptionsError, match=r"^offgate_passthrough_minutes: -5 is negative"):
            tctx.configure(fallback, offgate_passthrough_minutes=-5)
        assert tctx.options.offgate_passthrough_minutes == 0


# -- PolicyGate --------------------------------------------------------------------------------

BLOCK_OPENAI = '[[policy.rules]]\nname = "no-openai"\naction = "block"\nprovider = "openai"\n'


def openai_call(catalog: Catalog) -> http.HTTPFlow:
    """A direct chat call to OpenAI as the recorder leaves it for the gate."""
    flow = tflow.tflow(req=tutils.treq(host="api.openai.com", port=443, scheme=b"https", path=CHAT.encode(),
                                       content=b'{"model": "gpt-4o-mini", "messages": []}'))
    match = catalog.lookup("api.openai.com", 443, CHAT)
    assert match is not None
    call = InterceptedCall(match=match, parser=match.new_parser(), client_id=flow.client_conn.id,
                           host="api.openai.com", path=CHAT, method="POST", meter=ResponseMeter(started=0.0))
    call.parser.read_request(flow.request.content or b"", None)
    flow.metadata["offgate"] = call
    return flow


@pytest.mark.parametrize(("policy", "status", "outcome"), [
    (BLOCK_OPENAI, None, "coached"),  # enforce_block is off by default: the call passes, coached
    ("[policy]\nenforce_block = true\n" + BLOCK_OPENAI, 403, "blocked"),
])
def test_the_gate_blocks_only_when_the_home_enforces_blocking(tmp_path, policy, status, outcome):
    home = write_config(tmp_path / "home", policy)
    config, decrypt, gate = HomeConfig(), DecryptPolicy(), PolicyGate(ProcessCache(), FailOpen())
    with taddons.context(config, decrypt, gate) as tctx:
        tctx.configure(config, offgate_home=str(home))
        flow = openai_call(decrypt.catalog)
        asyncio.run(gate.request(flow))
        assert (flow.response.status_code if flow.response else None) == status
        call: InterceptedCall = flow.metadata["offgate"]
        assert (call.policy_outcome, call.policy_rule) == (outcome, "no-openai")


def test_a_bad_policy_option_is_refused_by_name_and_changes_nothing():
    gate = PolicyGate(ProcessCache(), FailOpen())
    with taddons.context(gate) as tctx:
        tctx.configure(gate, offgate_policy='{"enforce_block": true}')
        with pytest.raises(exceptions.OptionsError, match="offgate_policy"):
            tctx.configure(gate, offgate_policy='{"rules": [{"name": "x", "action": "shout"}]}')
        assert gate.policy.enforce_block and tctx.options.offgate_policy == '{"enforce_block": true}'


@pytest.mark.parametrize(("provider", "body"), [
    ("gemini", {"error": {"code": 403, "message": "No.", "status": "PERMISSION_DENIED"}}),
    ("anthropic", {"type": "error", "error": {"type": "permission_error", "message": "No."}}),
    ("mistral", {"error": {"message": "No.", "type": "permission_error", "param": None, "code": "blocked_by_policy"}}),
])
def test_a_refusal_has_the_providers_own_error_shape(provider, body):
    assert provider_error(provider, "No.") == body
