"""WebSocket client and server over `sandnet:net/websocket`.

Every connection (and reconnection) is checked by the host against the
guest's policy; the host answers pings, sends its own heartbeat, reassembles
fragments and completes the close handshake.

    from sandnet import websocket

    ws = websocket.connect("wss://chat.example.com/room",
                           headers={"authorization": "Bearer secret"})
    ws.send_text("hello")
    msg = ws.receive()          # websocket.Text / Binary / Close
    ws.close(1000, "bye")

To wait on several resources at once (connections, a listener, an SSE
stream), pass their `subscribe()` pollables to `wait_any`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional, Tuple, Union

from wit_world.imports import poll as _poll
from wit_world.imports import websocket as _ws

from .error import NetError, call
from .http import Headers, header_list
from .poll import wait_any

__all__ = ["Text", "Binary", "Close", "Message", "Connection", "Listener",
           "connect", "bind", "wait_any"]


@dataclass
class Text:
    """A text message."""
    text: str


@dataclass
class Binary:
    """A binary message."""
    data: bytes


@dataclass
class Close:
    """The peer's close (code 1005 when it gave none)."""
    code: int
    reason: str


Message = Union[Text, Binary, Close]


def _message(raw: "_ws.Message") -> Message:
    if isinstance(raw, _ws.Message_Text):
        return Text(raw.value)
    if isinstance(raw, _ws.Message_Binary):
        return Binary(bytes(raw.value))
    return Close(raw.value.code, raw.value.reason)


class Connection:
    """An open WebSocket connection; `close()` it or let it be dropped."""

    def __init__(self, raw: "_ws.Connection") -> None:
        self._raw = raw

    def send_text(self, text: str) -> None:
        """Sends a text message."""
        call(self._raw.send_text, text)

    def send_binary(self, data: bytes) -> None:
        """Sends a binary message."""
        call(self._raw.send_binary, data)

    def receive(self) -> Message:
        """Waits for the next message."""
        return _message(call(self._raw.receive))

    def try_receive(self) -> Optional[Message]:
        """The next message if one is ready, else None."""
        raw = call(self._raw.try_receive)
        return None if raw is None else _message(raw)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the close handshake; the peer's answer arrives as a Close."""
        call(self._raw.close, code, reason)

    def state(self) -> str:
        """"connecting", "open", "closing" or "closed"."""
        return self._raw.state().name.lower()

    def subprotocol(self) -> Optional[str]:
        """The subprotocol the server chose."""
        return self._raw.subprotocol()

    def subscribe(self) -> "_poll.Pollable":
        """A pollable ready when `receive` would not wait."""
        return self._raw.subscribe()


def connect(url: str, headers: Optional[Headers] = None,
            subprotocols: Sequence[str] = (), *, heartbeat_ms: Optional[int] = None,
            connect_timeout_ms: Optional[int] = None,
            reconnect: Optional[Tuple[int, int, int]] = None) -> Connection:
    """Connects to a `ws://` or `wss://` URL.

    `reconnect=(max_attempts, initial_backoff_ms, max_backoff_ms)` redials
    after a drop. Raises `NetError` (denied, dns, connect, tls, timeout, ...).
    """
    policy = None if reconnect is None else _ws.Reconnect(*reconnect)
    options = _ws.ConnectOptions(header_list(headers), list(subprotocols), heartbeat_ms,
                                 connect_timeout_ms, policy)
    return Connection(call(_ws.Connection.connect, url, options))


class Listener:
    """A WebSocket server socket (needs a `ws-listen://IP:PORT` grant)."""

    def __init__(self, raw: "_ws.Listener") -> None:
        self._raw = raw

    def local_address(self) -> str:
        """The bound address as IP:PORT."""
        return self._raw.local_address()

    def accept(self) -> Tuple[Connection, str]:
        """Waits for the next client the policy accepts: (connection, IP:PORT)."""
        raw, peer = call(self._raw.accept)
        return Connection(raw), peer

    def subscribe(self) -> "_poll.Pollable":
        """A pollable ready when `accept` would not wait."""
        return self._raw.subscribe()


def bind(address: str) -> Listener:
    """Binds `ws-listen://IP:PORT`."""
    return Listener(call(_ws.Listener.bind, address))
