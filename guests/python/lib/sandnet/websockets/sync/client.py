"""`from sandnet.websockets.sync.client import connect`, the import path of
`websockets.sync.client`."""

from ..client import ClientConnection, connect

__all__ = ["ClientConnection", "connect"]
