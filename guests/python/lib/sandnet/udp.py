"""UDP over `sandnet:net/udp`: destinations checked by the host, senders
filtered by the policy, multicast and broadcast only with grants.

    from sandnet import udp

    with udp.ephemeral() as sock:            # a pure sender needs no bind grant
        sock.send_to("udp://127.0.0.1:9999", b"ping")
        reply = sock.receive(timeout_ms=2000)
        print(reply.data, reply.sender)

Errors raise `sandnet.NetError` (a receive timeout: kind "timeout", reason "idle").
"""

from dataclasses import dataclass
from typing import Optional

from wit_world.imports import poll as _poll
from wit_world.imports import udp as _udp

from .error import call
from .poll import Resource

__all__ = ["Datagram", "Socket", "bind", "ephemeral"]


@dataclass
class Datagram:
    """A received datagram and its sender as `IP:PORT`."""

    data: bytes
    sender: str


class Socket(Resource):
    """A UDP socket (`_udp.Socket`). `close()` (or leaving a `with` block)
    closes it; `subscribe()` is ready when `receive` would not wait."""

    what = "socket"

    def local_address(self) -> str:
        """The bound address as `IP:PORT`."""
        return self.raw.local_address()

    def send_to(self, target: str, data: bytes) -> None:
        """Sends one datagram to `udp://host:port` (a str is sent as UTF-8)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        call(self.raw.send_to, target, data)

    def receive(self, timeout_ms: Optional[int] = None) -> Datagram:
        """The next datagram from an accepted sender, waiting at most
        `timeout_ms` (default and maximum: the policy's `read_timeout`)."""
        raw = call(self.raw.receive, timeout_ms)
        return Datagram(bytes(raw.data), raw.sender)

    def join_multicast(self, group: str, interface: Optional[str] = None) -> None:
        """Joins `group` on the interface with IPv4 address `interface`
        (default: the kernel's choice); needs `udp-multicast://GROUP`."""
        call(self.raw.join_multicast, group, interface)

    def leave_multicast(self, group: str, interface: Optional[str] = None) -> None:
        """Leaves a group joined with `join_multicast`."""
        call(self.raw.leave_multicast, group, interface)

    def set_broadcast(self, enabled: bool) -> None:
        """Allows sending to broadcast addresses (needs a broadcast grant)."""
        call(self.raw.set_broadcast, enabled)

    def wait(self) -> None:
        """Waits, without a timeout, until `receive` would not wait."""
        with self.subscribe() as p:
            p.block()


def bind(address: str) -> Socket:
    """Binds `udp-bind://ADDR:PORT` (needs that grant)."""
    return Socket(call(_udp.Socket.bind, address))


def ephemeral() -> Socket:
    """Binds an ephemeral port on 0.0.0.0 (no grant needed)."""
    return Socket(call(_udp.Socket.bind, None))
