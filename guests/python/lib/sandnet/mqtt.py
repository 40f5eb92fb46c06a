"""An MQTT client over `sandnet:net/mqtt`: `connect` to a broker by name,
`publish`, `subscribe` to filters (`+` one level, `#` the rest) and read
`Message`s, all scoped by the policy's `mqtt://` rules.

    from sandnet import mqtt

    with mqtt.connect("mqtt://broker.example.com") as client:
        client.subscribe("sensors/+/temp")
        client.publish("sensors/kitchen/temp", "21.5")
        message = client.next()
        print(message.topic, message.payload)

Errors raise `sandnet.NetError` (a refusal: kind "denied" with the line to add).
"""

from dataclasses import dataclass
from typing import Optional

from wit_world.imports import mqtt as _mqtt

from .error import call
from .poll import Resource

__all__ = ["Client", "Message", "connect"]


@dataclass
class Message:
    """A received message."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


def _qos(qos: int):
    if qos not in (0, 1):
        raise ValueError(f"MQTT QoS must be 0 or 1, not {qos!r}")
    return _mqtt.Qos.AT_LEAST_ONCE if qos == 1 else _mqtt.Qos.AT_MOST_ONCE


def _message(raw) -> Message:
    qos = 1 if raw.qos == _mqtt.Qos.AT_LEAST_ONCE else 0
    return Message(raw.topic, bytes(raw.payload), qos, raw.retain)


def _bytes(payload) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


class Client(Resource):
    """A broker connection (`_mqtt.Client`). `close()` (or leaving a `with`
    block) disconnects; `subscribe()` is ready when `next` would not wait."""

    what = "MQTT client"

    def session_present(self) -> bool:
        """Whether the broker kept a session for this client id."""
        return self.raw.session_present()

    def publish(self, topic: str, payload, qos: int = 0, retain: bool = False) -> None:
        """Publishes on the concrete `topic` (a str payload is sent as UTF-8);
        QoS 1 waits for the broker's acknowledgement."""
        call(self.raw.publish, topic, _bytes(payload), _qos(qos), retain)

    def subscribe_to(self, pattern: str, qos: int = 1) -> None:
        """Subscribes to the filter `pattern` (inside a subscribe grant)."""
        call(self.raw.subscribe_to, pattern, _qos(qos))

    def unsubscribe_from(self, pattern: str) -> None:
        """Ends a subscription."""
        call(self.raw.unsubscribe_from, pattern)

    def next(self) -> Message:
        """Waits for the next message."""
        return _message(call(self.raw.next))

    def try_next(self) -> Optional[Message]:
        """The next queued message, or None without waiting."""
        raw = call(self.raw.try_next)
        return None if raw is None else _message(raw)


def connect(url: str, client_id: Optional[str] = None, clean_session: bool = True,
            keep_alive_secs: Optional[int] = None, max_reconnects: int = 0) -> Client:
    """Connects to `mqtt://host[:port]` or `mqtts://host[:port]`."""
    options = _mqtt.ConnectOptions(client_id, keep_alive_secs, clean_session,
                                   max_reconnects, None, None, None)
    return Client(call(_mqtt.Client.connect, url, options))
