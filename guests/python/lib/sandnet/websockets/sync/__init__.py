"""`sandnet.websockets.sync`: the synchronous client, as `websockets.sync`."""

from . import client

__all__ = ["client"]
