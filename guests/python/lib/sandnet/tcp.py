"""TCP over `sandnet:net/tcp`: streams by name (`tcp://host:port`, or
`tls://host:port` with TLS terminated by the host) and listeners
(`tcp-listen://ADDR:PORT`), each checked by the host against the policy.

    from sandnet import tcp

    with tcp.connect("tcp://127.0.0.1:6379") as redis:
        redis.write(b"PING\\r\\n")
        print(redis.read_line())        # b"+PONG\\r\\n"

To serve several connections at once, `subscribe()` to the listener and each
stream and wait with `tcp.wait_any([...])`. Close streams explicitly (`close()`
or `with`): a connection holds one of the guest's `max_connections` slots.
Errors raise `sandnet.NetError`.
"""

from typing import Optional

from wit_world.imports import poll as _poll
from wit_world.imports import tcp as _tcp

from .error import NetError, call
from .poll import Resource, wait_any

__all__ = ["Stream", "Listener", "connect", "listen", "wait_any", "MAX_READ_CHUNK"]

MAX_READ_CHUNK = 1 << 20
"""Largest chunk the host hands out per `read` (1 MiB)."""


class Stream(Resource):
    """A connected TCP stream (`_tcp.Stream`). `close()` (or leaving a `with`
    block) closes the connection; `subscribe()` is ready when `read` would not
    wait."""

    what = "stream"

    def peer_address(self) -> str:
        """The peer as `IP:PORT`."""
        return self.raw.peer_address()

    def local_address(self) -> str:
        """The local address as `IP:PORT`."""
        return self.raw.local_address()

    def read(self, max_bytes: int = 65536) -> bytes:
        """Up to `max_bytes`, waiting for at least one; b"" at end of stream."""
        return bytes(call(self.raw.read, min(max_bytes, MAX_READ_CHUNK)))

    def read_until(self, delimiter: bytes, max_bytes: int = 65536) -> bytes:
        """Bytes through `delimiter` (kept), at most `max_bytes` of them
        (NetError "limit-exceeded" `max-bytes` otherwise); the rest at end of stream."""
        return bytes(call(self.raw.read_until, delimiter, max_bytes))

    def read_line(self, max_bytes: int = 65536) -> bytes:
        """One line through b"\\n" (kept)."""
        return self.read_until(b"\n", max_bytes)

    def read_exact(self, n: int) -> bytes:
        """Exactly `n` bytes; NetError "closed" if the stream ends first."""
        out = bytearray()
        while len(out) < n:
            chunk = self.read(min(n - len(out), MAX_READ_CHUNK))
            if not chunk:
                raise NetError("closed", f"stream ended after {len(out)} of {n} bytes")
            out += chunk
        return bytes(out)

    def write(self, data: bytes) -> None:
        """Writes all of `data` (a str is sent as UTF-8)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        call(self.raw.write, data)

    def shutdown(self) -> None:
        """Closes the write half; reading goes on."""
        call(self.raw.shutdown)



class Listener(Resource):
    """A listening socket (`tcp-listen://ADDR:PORT` grant; `_tcp.Listener`).
    `close()` stops listening; `subscribe()` is ready when `accept` would not
    wait."""

    what = "listener"

    def local_address(self) -> str:
        """The bound address as `IP:PORT`."""
        return self.raw.local_address()

    def accept(self) -> Stream:
        """The next connection from a peer the policy accepts."""
        return Stream(call(self.raw.accept))



def connect(url: str, connect_timeout_ms: Optional[int] = None,
            read_timeout_ms: Optional[int] = None) -> Stream:
    """Connects to `tcp://host:port` or `tls://host:port`. Timeouts may only
    tighten the policy's `connect_timeout` and `read_timeout`."""
    options = _tcp.ConnectOptions(connect_timeout_ms, read_timeout_ms)
    return Stream(call(_tcp.Stream.connect, url, options))


def listen(address: str) -> Listener:
    """Binds `tcp-listen://ADDR:PORT` (port 0: a free port)."""
    return Listener(call(_tcp.Listener.bind, address))
