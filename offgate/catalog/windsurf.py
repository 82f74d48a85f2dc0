"""Windsurf (formerly Codeium): server.codeium.com and *.windsurf.com.

The editor's local language server calls Codeium's API server over Connect-RPC with
protobuf bodies (gzip, enveloped). Model calls are exa.api_server_pb.ApiServerService
methods: GetChatMessage (chat and Cascade), GetDevstralStream, and GetCompletions /
GetStreamingCompletions (autocomplete). Counted only: see connect_rpc.

Sources: the reference's section C (third-party reverse-engineering notes). Several
third-party clients of 2025-2026 (Windsurf and Devin CLI proxies) call GetChatMessage on
server.codeium.com and server.self-serve.windsurf.com over Connect, beside AssignModel,
GetCascadeModelConfigs and GetCliModelConfigs (no model call); one gateway also routes
GetDevstralStream. The autocomplete methods are not confirmed by them.
"""

from __future__ import annotations

from offgate.catalog.connect_rpc import ConnectCall
from offgate.catalog.registry import PathRule, Provider

PROVIDER = Provider(
    name="windsurf",
    hosts=("*.codeium.com", "*.windsurf.com"),
    paths=(PathRule.of(r"/(?P<endpoint>exa\.api_server_pb\.ApiServerService/"
                       r"(?:GetChatMessage\w*|GetDevstralStream|GetCompletions|GetStreamingCompletions))",
                       ConnectCall),),
    app="windsurf",
    usage="counted",
)
