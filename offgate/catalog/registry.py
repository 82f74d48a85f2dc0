"""How the catalog finds the parser for a request: host first (a dict lookup), then the
few path rules of that one provider. The cost per request does not grow with the catalog."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from offgate.catalog.base import CallParser


@dataclass(frozen=True, slots=True)
class PathRule:
    """A path (without query) that one endpoint answers; a `model` group names the model,
    an `endpoint` group the endpoint (Connect-RPC paths are `/<service>/<method>`)."""

    pattern: re.Pattern[str]
    endpoint: str
    parser: type[CallParser]

    @classmethod
    def of(cls, regex: str, parser: type[CallParser]) -> PathRule:
        return cls(re.compile(regex), parser.endpoint, parser)


@dataclass(frozen=True, slots=True)
class Provider:
    """One API or app: where it lives and which paths it serves.

    A host starting with "*." matches every subdomain of the rest (Azure resources); a
    host with a port ("localhost:11434") matches that port only (local model servers).
    `usage` says what its traffic yields: tokens the provider "reported", tokens we
    "estimated" from the text (web apps), or calls and bytes only ("counted")."""

    name: str
    hosts: tuple[str, ...]
    paths: tuple[PathRule, ...]
    app: str | None = None
    usage: Literal["reported", "estimated", "counted"] = "reported"


@dataclass(frozen=True, slots=True)
class Match:
    provider: str
    app: str | None
    endpoint: str
    parser: type[CallParser]
    path_model: str | None
    route: Literal["direct", "gateway"]
    usage: Literal["reported", "estimated", "counted"] = "reported"

    def new_parser(self, query: Mapping[str, str] | None = None,
                   headers: Mapping[str, str] | None = None) -> CallParser:
        return self.parser(path_model=self.path_model, query=query, headers=headers)


@dataclass(frozen=True, slots=True)
class Gateway:
    """A LiteLLM gateway the company runs, from its base URL."""

    host: str
    port: int
    base_path: str

    @classmethod
    def from_url(cls, url: str) -> Gateway:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"gateway URL {url!r} must be http:// or https:// with a host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ValueError(f"gateway URL {url!r} has a bad port") from exc
        return cls(parts.hostname.lower(), port, parts.path.rstrip("/"))


def _match_path(provider: Provider, path: str, route: Literal["direct", "gateway"],
                websocket: bool) -> Match | None:
    for rule in provider.paths:
        # One path can serve both (OpenAI's /v1/responses): the upgrade picks the parser.
        if rule.parser.websocket is not websocket:
            continue
        found = rule.pattern.fullmatch(path)
        if found:
            model = found.groupdict().get("model")
            if model:  # as the client wrote it: Bedrock's SDKs send `:` as %3A, an ARN's `/` as %2F
                model = unquote(model)
            endpoint = found.groupdict().get("endpoint") or rule.endpoint
            return Match(provider.name, provider.app, endpoint, rule.parser, model, route, provider.usage)
    return None


class Catalog:
    """The providers offgate recognises, plus the company's gateways."""

    def __init__(self, providers: Iterable[Provider], gateways: Iterable[Gateway] = (),
                 gateway_provider: Provider | None = None) -> None:
        self.providers = tuple(providers)
        self.gateways = tuple(gateways)
        self._gateway_provider = gateway_provider
        self._exact: dict[str, Provider] = {}
        self._suffix: dict[str, Provider] = {}
        for provider in self.providers:
            for host in provider.hosts:
                if host.startswith("*."):
                    self._suffix[host[2:]] = provider
                else:
                    self._exact[host] = provider
        self._gateway_index = {(g.host, g.port): g for g in self.gateways}

    def provider_for_host(self, host: str) -> Provider | None:
        host = host.lower().rstrip(".")
        found = self._exact.get(host)
        if found is not None:
            return found
        # Walk up the labels: a constant number of dict lookups per request.
        rest = host
        while "." in rest:
            rest = rest.split(".", 1)[1]
            found = self._suffix.get(rest)
            if found is not None:
                return found
        return None

    def lookup(self, host: str, port: int, path: str, websocket: bool = False) -> Match | None:
        """The endpoint a request goes to, or None when it is not LLM traffic we know;
        `websocket`: the request asks to upgrade to a WebSocket session."""
        host = host.lower().rstrip(".")
        path = path.split("?", 1)[0]
        gateway = self._gateway_index.get((host, port))
        if gateway is not None and self._gateway_provider is not None:
            if path.startswith(gateway.base_path):
                return _match_path(self._gateway_provider, path[len(gateway.base_path):] or "/", "gateway",
                                   websocket)
            return None
        provider = self._exact.get(f"{host}:{port}") or self.provider_for_host(host)
        return _match_path(provider, path, "direct", websocket) if provider else None

    def decrypt_patterns(self) -> list[str]:
        """mitmproxy `allow_hosts` regexes (matched against "host:port"). One alternation:
        mitmproxy tries every pattern on every new connection, LLM traffic or not, and one
        regex runs in C where 180 would each cost a Python-level call."""
        alternatives: list[str] = []
        for provider in self.providers:
            for host in provider.hosts:
                if host.startswith("*."):
                    alternatives.append(rf"(?:[^:]+\.)?{re.escape(host[2:])}:\d+")
                elif ":" in host:  # the port is part of the entry
                    alternatives.append(re.escape(host))
                else:
                    alternatives.append(rf"{re.escape(host)}:\d+")
        alternatives += [rf"{re.escape(g.host)}:{g.port}" for g in self.gateways]
        return [f"^(?:{'|'.join(alternatives)})$"]
