"""Waiting on several resources at once, over `wasi:io/poll`.

Every resource that can make a caller wait has a `subscribe()` returning a
pollable: WebSocket connections and listeners, event streams, TCP streams and
listeners, UDP sockets.

    from sandnet.poll import wait_any

    ready = wait_any([listener.subscribe(), stream.subscribe()])
    if 1 in ready:
        data = stream.read()

`tcp.wait_any` and `websocket.wait_any` are this same function.
"""

from typing import List

from wit_world.imports import poll as _poll

__all__ = ["wait_any"]


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
