"""Moved to offgate/demo/threaded_server.py (the demo serves its fakes with it too)."""

from offgate.demo.threaded_server import ThreadedServer

__all__ = ["ThreadedServer"]
