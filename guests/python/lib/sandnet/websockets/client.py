"""`connect` and `ClientConnection`, the shape of `websockets.sync.client`,
over `sandnet:net/websocket` (the host answers pings and completes the close
handshake)."""

from collections.abc import Iterable, Sequence
from typing import Iterator, Mapping, Optional, Tuple, Union

from wit_world.imports import monotonic_clock as _clock

from .. import websocket as _ws
from ..error import NetError
from ..poll import wait_any
from . import exceptions as exc

__all__ = ["ClientConnection", "connect"]

Data = Union[str, bytes]

CLOSE_TIMEOUT = 10.0
"""Seconds `close()` waits for the peer's close frame by default."""


def _ns(seconds: float) -> int:
    return max(0, int(seconds * 1_000_000_000))


class ClientConnection:
    """An open WebSocket client connection: `send`, `recv`, iteration, `close`,
    and `with` (closes on exit)."""

    def __init__(self, conn: "_ws.Connection", close_timeout: Optional[float]) -> None:
        self._conn = conn
        self._rcvd: Optional[exc.Close] = None
        self._sent: Optional[exc.Close] = None
        self._broken: Optional[NetError] = None
        self.close_timeout = close_timeout

    @property
    def subprotocol(self) -> Optional[str]:
        """The subprotocol the server chose, if any."""
        return self._conn.subprotocol()

    def _closed_error(self) -> exc.ConnectionClosed:
        return exc.closed(self._rcvd, self._sent, self._broken)

    def _wait(self, timeout: Optional[float]) -> bool:
        """Waits until a message is ready or `timeout` seconds pass; whether one is."""
        if timeout is None:
            return True
        ready = wait_any([self._conn.subscribe(), _clock.subscribe_duration(_ns(timeout))])
        return 0 in ready

    def _note(self, message: "_ws.Message") -> "_ws.Message":
        if isinstance(message, _ws.Close) and self._rcvd is None:
            self._rcvd = exc.Close(message.code, message.reason)
        return message

    def _drain_close(self) -> None:
        """After the host said "closed", picks up the peer's close frame if it
        is queued, so its code and reason are not lost."""
        while self._rcvd is None:
            try:
                message = self._conn.try_receive()
            except NetError:
                return
            if message is None:
                return
            self._note(message)

    def recv(self, timeout: Optional[float] = None, decode: Optional[bool] = None) -> Data:
        """The next message: str for text, bytes for binary (`decode` converts).
        Raises `TimeoutError` after `timeout` seconds, `ConnectionClosedOK` /
        `ConnectionClosedError` once the connection is closed."""
        if self._rcvd is not None or self._broken is not None:
            raise self._closed_error()
        if not self._wait(timeout):
            raise TimeoutError(f"no message within {timeout} s")
        try:
            message = self._note(self._conn.receive())
        except NetError as e:
            self._broken = e
            self._drain_close()
            raise self._closed_error() from None
        if isinstance(message, _ws.Close):
            raise self._closed_error()
        if isinstance(message, _ws.Text):
            return message.text.encode("utf-8") if decode is False else message.text
        return message.data.decode("utf-8") if decode else message.data

    def __iter__(self) -> Iterator[Data]:
        """Messages until a clean close (an unclean one raises)."""
        while True:
            try:
                yield self.recv()
            except exc.ConnectionClosedOK:
                return

    def send(self, message: Union[Data, Iterable[Data]]) -> None:
        """Sends a text (str) or binary (bytes-like) message; an iterable of
        fragments is sent as one message of the first fragment's type."""
        if not isinstance(message, (str, bytes, bytearray, memoryview)):
            parts = list(message)
            if not parts:
                raise TypeError("send() needs a message, got an empty iterable")
            message = "".join(parts) if isinstance(parts[0], str) else b"".join(parts)
        if self._rcvd is not None or self._broken is not None:
            raise self._closed_error()
        try:
            if isinstance(message, str):
                self._conn.send_text(message)
            else:
                self._conn.send_binary(bytes(message))
        except NetError as e:
            self._broken = e
            self._drain_close()
            raise self._closed_error() from None

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Sends a close frame and waits (up to `close_timeout`) for the peer's."""
        if self._sent is not None or self._rcvd is not None or self._broken is not None:
            return
        try:
            self._conn.close(code, reason)
        except NetError:
            self._drain_close()
            return
        self._sent = exc.Close(code, reason)
        timeout = CLOSE_TIMEOUT if self.close_timeout is None else self.close_timeout
        while self._rcvd is None:
            if not self._wait(timeout):
                return
            try:
                self._note(self._conn.receive())
            except NetError:
                return

    def __enter__(self) -> "ClientConnection":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect(uri: str, *, additional_headers: Union[Mapping[str, str],
                                                   Sequence[Tuple[str, str]], None] = None,
            subprotocols: Optional[Sequence[str]] = None, open_timeout: Optional[float] = 10,
            close_timeout: Optional[float] = CLOSE_TIMEOUT,
            **unsupported: object) -> ClientConnection:
    """Opens a client connection to a ws:// or wss:// URI (checked by the host
    against the policy). Raises `PolicyDenied`, `InvalidURI`,
    `InvalidHandshake`, `TimeoutError` or `ConnectionRefusedError`."""
    for name in unsupported:
        if name not in ("compression", "max_size", "user_agent_header", "ping_interval",
                        "ping_timeout", "max_queue"):
            raise TypeError(f"connect() got an unexpected keyword argument {name!r}")
    timeout_ms = None if open_timeout is None else max(1, int(open_timeout * 1000))
    try:
        conn = _ws.connect(uri, additional_headers, list(subprotocols or ()),
                           connect_timeout_ms=timeout_ms)
    except NetError as e:
        raise exc.from_net_error(e) from None
    return ClientConnection(conn, close_timeout)
