"""Windsurf (formerly Codeium): server.codeium.com and *.windsurf.com.

The editor's local language server calls Codeium's API server over Connect-RPC with
protobuf bodies (gzip, enveloped). Model calls are exa.api_server_pb.ApiServerService
methods: GetChatMessage (chat and Cascade) and GetCompletions / GetStreamingCompletions
(autocomplete). Counted only: see connect_rpc.

Sources: the reference's section C (third-party reverse-engineering notes); the method
names are unverified against a capture.
"""

from __future__ import annotations

from offgate.catalog.connect_rpc import ConnectCall
from offgate.catalog.registry import PathRule, Provider

PROVIDER = Provider(
    name="windsurf",
    hosts=("*.codeium.com", "*.windsurf.com"),
    paths=(PathRule.of(r"/(?P<endpoint>exa\.api_server_pb\.ApiServerService/"
                       r"(?:GetChatMessage\w*|GetCompletions|GetStreamingCompletions))", ConnectCall),),
    app="windsurf",
    usage="counted",
)
