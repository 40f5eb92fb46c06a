"""Waiting on several resources at once, over `wasi:io/poll`.

Every resource that can make a caller wait has a `subscribe()` returning a
pollable: WebSocket connections and listeners, event streams, TCP streams and
listeners, UDP sockets.

    from sandnet.poll import wait_any

    ready = wait_any([listener.subscribe(), stream.subscribe()])
    if 1 in ready:
        data = stream.read()

`tcp.wait_any` and `websocket.wait_any` are this same function.

`Resource` is what the closable ones (TCP streams and listeners, UDP sockets)
share: the handle, its pollable, `close()` and `with`.
"""

from typing import Any, List, Optional

from wit_world.imports import poll as _poll

from .error import NetError

__all__ = ["Resource", "wait_any"]


def wait_any(pollables: List["_poll.Pollable"]) -> List[int]:
    """Waits until at least one pollable is ready; the indexes of the ready ones.

    The pollables are released afterwards (a pollable is a child of its
    resource, which cannot be closed while one lives), so make fresh ones for
    each wait."""
    try:
        return list(_poll.poll(pollables))
    finally:
        for p in pollables:
            p.__exit__(None, None, None)


class Resource:
    """A host resource this object owns until `close()` (or the end of a `with`
    block); `what` names it in the "already closed" error."""

    what = "resource"

    def __init__(self, raw: Any) -> None:
        self._raw: Optional[Any] = raw

    @property
    def raw(self) -> Any:
        """The generated resource; NetError "closed" after `close()`."""
        if self._raw is None:
            raise NetError("closed", f"{self.what} already closed")
        return self._raw

    def subscribe(self) -> "_poll.Pollable":
        """Ready when the next read, accept or receive would not wait. Drop it
        (or pass it to `wait_any`, which does) before closing the resource."""
        return self.raw.subscribe()

    def close(self) -> None:
        """Frees the resource (idempotent)."""
        if self._raw is not None:
            self._raw.__exit__(None, None, None)
            self._raw = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
