"""Cursor (api2.cursor.sh and its siblings).

The editor calls Cursor's servers over Connect-RPC with protobuf bodies; even with the
user's own API key, model calls are relayed by Cursor. The methods that run a model:
aiserver.v1.ChatService / AiService Stream* (chat, composer, StreamUnifiedChatWithTools
and its SSE variant), aiserver.v1.CppService / AiService StreamCpp (Tab completions)
and agent.v1.AgentService/Run (the agent). Warm-ups, queue checks, analytics and the
rest are not calls. Counted only: see connect_rpc.

Sources: the reference's section C (Cursor's network docs, third-party notes);
Distracted-E421/nixos-cursor tools/proxy-test/SCHEMA_RECONSTRUCTION.md (service map).
"""

from __future__ import annotations

from offgate.catalog.connect_rpc import ConnectCall
from offgate.catalog.registry import PathRule, Provider

PROVIDER = Provider(
    name="cursor",
    hosts=("api2.cursor.sh", "api3.cursor.sh", "api4.cursor.sh", "*.api5.cursor.sh"),
    paths=(PathRule.of(r"/(?P<endpoint>aiserver\.v1\.(?:ChatService|AiService|CppService)/Stream\w+"
                       r"|agent\.v1\.AgentService/Run\w*)", ConnectCall),),
    app="cursor",
    usage="counted",
)
