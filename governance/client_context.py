"""The hook's half of richer gateway logs: the x-offgate-* headers the workstation's proxy
added (offgate.gateway_context), checked, become LiteLLM tags (`offgate-device:laptop-7`, ...)
and keys of `spend_logs_metadata` (`offgate_device`, ...), which LiteLLM writes to its spend
logs and hands its callbacks (`request_tags`, `metadata.spend_logs_metadata`). Tags of that
prefix the request brought in its own metadata are dropped: the headers are the one source.
"""

from __future__ import annotations

from typing import Any

from offgate.gateway_context import TAG_PREFIX, context_of, context_tags


def add_client_context(data: dict[str, Any]) -> None:
    """Move the request's offgate context into its LiteLLM metadata (in place)."""
    request = data.get("proxy_server_request")
    headers = request.get("headers") if isinstance(request, dict) else None
    context = context_of(headers) if isinstance(headers, dict) else {}
    if not context:
        return
    # Most routes keep LiteLLM's metadata in "metadata"; a few (assistants, batches) in "litellm_metadata".
    key = "litellm_metadata" if isinstance(data.get("litellm_metadata"), dict) else "metadata"
    metadata = data.setdefault(key, {})
    if not isinstance(metadata, dict):
        return
    tags = metadata.get("tags")
    kept = [tag for tag in tags if not (isinstance(tag, str) and tag.startswith(TAG_PREFIX))] \
        if isinstance(tags, list) else []
    metadata["tags"] = kept + context_tags(context)
    spend_metadata = metadata.get("spend_logs_metadata")
    metadata["spend_logs_metadata"] = {**(spend_metadata if isinstance(spend_metadata, dict) else {}),
                                       **{f"offgate_{name}": value for name, value in context.items()}}
