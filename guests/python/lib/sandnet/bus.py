"""The message bus over `sandnet:net/bus`: `publish`, `subscribe` to a
`Subscription`, `request` and `reply`, on NATS-style topics (`a.b.c`, `*` one
token, `>` the rest) scoped by the guest's policy.

    from sandnet import bus

    with bus.subscribe("commands.*") as commands:
        bus.publish("telemetry.cpu", b"42")
        message = commands.next()
        print(message.topic, message.payload)

Errors raise `sandnet.NetError` (a refusal: kind "denied" with the line to add).
"""

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from wit_world.imports import bus as _bus

from .error import call
from .poll import Resource

__all__ = ["Message", "Subscription", "publish", "subscribe", "request", "reply"]


@dataclass
class Message:
    """A received message; `reply_to` is set on a request."""

    topic: str
    payload: bytes
    headers: List[Tuple[str, str]] = field(default_factory=list)
    reply_to: Optional[str] = None


def _message(raw) -> Message:
    return Message(raw.topic, bytes(raw.payload), list(raw.headers), raw.reply_to)


def _bytes(payload) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


class Subscription(Resource):
    """A live subscription (`_bus.Subscription`). `close()` (or leaving a
    `with` block) unsubscribes; `subscribe()` is ready when `next` would not wait."""

    what = "subscription"

    def pattern(self) -> str:
        """The pattern it was made with."""
        return self.raw.pattern()

    def next(self) -> Message:
        """Waits for the next message."""
        return _message(call(self.raw.next))

    def try_next(self) -> Optional[Message]:
        """The next queued message, or None without waiting."""
        raw = call(self.raw.try_next)
        return None if raw is None else _message(raw)

    def dropped(self) -> int:
        """Messages dropped so far by the drop-oldest rule."""
        return self.raw.dropped()


def publish(topic: str, payload, headers: Optional[List[Tuple[str, str]]] = None) -> None:
    """Publishes on the concrete `topic` (a str payload is sent as UTF-8)."""
    call(_bus.publish, topic, _bytes(payload), headers or [])


def subscribe(pattern: str, capacity: Optional[int] = None,
              back_pressure: bool = False) -> Subscription:
    """Subscribes to `pattern` (inside a subscribe grant). `capacity`
    defaults to 256; a full queue drops its oldest message unless
    `back_pressure`, which makes publishers wait instead."""
    overflow = _bus.Overflow.BACK_PRESSURE if back_pressure else _bus.Overflow.DROP_OLDEST
    options = _bus.SubscribeOptions(capacity, overflow)
    return Subscription(call(_bus.subscribe, pattern, options))


def request(topic: str, payload, timeout_ms: Optional[int] = None) -> Message:
    """Sends a request on `topic` and returns the first reply."""
    return _message(call(_bus.request, topic, _bytes(payload), [], timeout_ms))


def reply(message: Message, payload) -> bool:
    """Answers `message`; False when it was not a request (no reply-to)."""
    if message.reply_to is None:
        return False
    call(_bus.reply, message.reply_to, _bytes(payload), [])
    return True
