"""Server-Sent Events over `sandnet:net/sse`: the host parses the stream,
reconnects (honouring `retry`, sending `Last-Event-ID`) and checks every
request against the guest's policy.

    from sandnet import sse

    with sse.open("https://stream.example.com/events") as stream:
        for ev in stream:               # until the server ends the stream
            print(ev.event_type, ev.id, ev.data)
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Iterator, Optional

from wit_world.imports import poll as _poll
from wit_world.imports import sse as _sse

from .error import NetError, call
from .http import Headers, header_list

__all__ = ["Event", "EventStream", "open"]


@dataclass
class Event:
    """One event: type (`message` by default), data, last event id."""
    event_type: str
    data: str
    id: Optional[str]


class EventStream:
    """An open event stream."""

    def __init__(self, raw: "_sse.EventStream") -> None:
        self._raw = raw

    def next(self) -> Event:
        """Waits for the next event; NetError("closed") once the stream is over."""
        raw = call(self._raw.next)
        return Event(raw.event_type, raw.data, raw.id)

    def try_next(self) -> Optional[Event]:
        """The next event if one is ready, else None."""
        raw = call(self._raw.try_next)
        return None if raw is None else Event(raw.event_type, raw.data, raw.id)

    def subscribe(self) -> "_poll.Pollable":
        """A pollable ready when `next` would not wait."""
        return self._raw.subscribe()

    def __iter__(self) -> Iterator[Event]:
        """Events as they arrive, until the stream is over (the host has
        already reconnected as the policy and options allow)."""
        while True:
            try:
                yield self.next()
            except NetError as e:
                if e.kind == "closed":
                    return
                raise

    def close(self) -> None:
        """Closes the stream (idempotent)."""
        if self._raw is not None:
            self._raw.__exit__(None, None, None)
            self._raw = None

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open(url: str, headers: Optional[Headers] = None,
         event_types: Sequence[str] = (), *, reconnect: Optional[bool] = None,
         max_reconnects: Optional[int] = None,
         max_redirects: Optional[int] = None) -> EventStream:
    """Opens an `http://` or `https://` event stream. Raises `NetError`."""
    options = _sse.OpenOptions(header_list(headers), list(event_types), reconnect,
                               max_reconnects, max_redirects)
    return EventStream(call(_sse.EventStream.open, url, options))
