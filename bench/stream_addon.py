"""The least a mitmproxy addon must do to stream responses as offgate does: nothing else.

Loaded by bench/proxy_bench.py into its "mitmdump+stream" peer. (`stream_large_bodies`
cannot stand in: it streams the request too, and a streamed request leaves before
map_remote rewrites its URL.)
"""

from mitmproxy import http


def responseheaders(flow: http.HTTPFlow) -> None:
    flow.response.stream = True
