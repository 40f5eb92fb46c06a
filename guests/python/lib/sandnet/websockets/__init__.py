"""`websockets`, by shape (its synchronous client), over
`sandnet:net/websocket`: every connection is checked by the host against the
guest's policy.

    from sandnet import websockets

    with websockets.connect("wss://echo.example.com/", subprotocols=["chat"]) as ws:
        ws.send("hello")
        print(ws.recv(timeout=5))
        for message in ws:          # until the server closes cleanly
            print(message)

`from sandnet.websockets.sync.client import connect` works too. A close
reaches you as `ConnectionClosedOK` / `ConnectionClosedError` with the peer's
`code` and `reason`, also when the peer closes before your first `send`.
"""

from . import exceptions, sync
from .client import ClientConnection, connect
from .exceptions import (ConnectionClosed, ConnectionClosedError, ConnectionClosedOK,
                         InvalidHandshake, InvalidURI, PolicyDenied, WebSocketException)

__all__ = ["connect", "ClientConnection", "exceptions", "sync", "ConnectionClosed",
           "ConnectionClosedOK", "ConnectionClosedError", "InvalidURI", "InvalidHandshake",
           "PolicyDenied", "WebSocketException"]
