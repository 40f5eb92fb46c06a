"""`asyncio` over `wasi:io/poll`: an event loop whose only blocking point is one
`poll` of every pending host pollable plus a clock for the next timer, and the
async twins of the `sandnet.requests` calls. Several requests run at once
without any raw `tcp://` grant: each is a `sandnet:net/http` request the host
checks against the policy.

    import asyncio
    from sandnet import aio

    async def main():
        a, b = await asyncio.gather(aio.get("https://a.example/slow"),
                                    aio.get("https://b.example/slow"))
        print(a.status_code, b.status_code)     # both in the time of the slower

    aio.run(main())            # asyncio.run(main()) works too once aio is imported

`await aio.ready(pollable)` waits for any host pollable (a WebSocket's,
an event stream's, a TCP stream's `subscribe()`), so the blocking APIs compose:
await readiness, then call the method that would have waited.
"""

import asyncio
import time
from typing import Any, Coroutine, List, Optional, Tuple, TypeVar

from wit_world.imports import http as _http
from wit_world.imports import monotonic_clock as _clock
from wit_world.imports import poll as _poll

from .error import NetError, call
from .requests import exceptions as _exc
from .http import READ_CHUNK, Multipart, outcome
from .requests.adapters import options_for, start_upload, streamed, wit_of
from .requests.models import PreparedRequest, Response
from .requests.sessions import Session, check_supported

__all__ = ["Loop", "ready", "run", "request", "get", "post", "put", "patch", "delete",
           "head", "options"]

T = TypeVar("T")


class _PollSelector:
    """What `asyncio.BaseEventLoop` asks of a selector, over host pollables:
    `select(timeout)` polls every registered pollable (and a clock for the
    timeout) once and returns the futures whose pollable is ready."""

    def __init__(self) -> None:
        self._waiting: List[Tuple["_poll.Pollable", asyncio.Future]] = []

    def register(self, pollable: "_poll.Pollable", future: asyncio.Future) -> None:
        self._waiting.append((pollable, future))

    def _prune(self) -> None:
        """Releases the pollables of futures nobody waits for (cancelled)."""
        live = []
        for pollable, future in self._waiting:
            if future.done():
                pollable.__exit__(None, None, None)
            else:
                live.append((pollable, future))
        self._waiting = live

    def select(self, timeout: Optional[float]) -> List[asyncio.Future]:
        self._prune()
        if not self._waiting and timeout is None:
            raise RuntimeError("the event loop would wait forever: nothing is pending "
                               "(no request, socket or timer)")
        pollables = [pollable for pollable, _ in self._waiting]
        clock = None
        if timeout is not None:
            clock = _clock.subscribe_duration(max(0, int(timeout * 1_000_000_000)))
            pollables.append(clock)
        try:
            ready = set(_poll.poll(pollables))
        finally:
            if clock is not None:
                clock.__exit__(None, None, None)
        fired, still = [], []
        for index, (pollable, future) in enumerate(self._waiting):
            if index in ready:
                pollable.__exit__(None, None, None)
                fired.append(future)
            else:
                still.append((pollable, future))
        self._waiting = still
        return fired

    def close(self) -> None:
        for pollable, future in self._waiting:
            pollable.__exit__(None, None, None)
            future.cancel()
        self._waiting = []


class Loop(asyncio.BaseEventLoop):
    """The asyncio event loop of a sandnet guest: timers and host pollables,
    no OS sockets (network access goes through `sandnet:net`)."""

    def __init__(self) -> None:
        super().__init__()
        self._selector = _PollSelector()

    def _process_events(self, event_list: List[asyncio.Future]) -> None:
        for future in event_list:
            if not future.done():
                future.set_result(None)

    def _write_to_self(self) -> None:
        """No other thread can wake this loop; nothing to do."""

    def wait_for_pollable(self, pollable: "_poll.Pollable") -> asyncio.Future:
        """A future done when `pollable` is ready (the loop releases it)."""
        future = self.create_future()
        self._selector.register(pollable, future)
        return future

    def close(self) -> None:
        if not self.is_closed():
            self._selector.close()
        super().close()


class _Policy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return Loop()


asyncio.set_event_loop_policy(_Policy())


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` to completion on a fresh `Loop` (like `asyncio.run`)."""
    return asyncio.run(main)


async def ready(pollable: "_poll.Pollable") -> None:
    """Waits, without blocking other tasks, until `pollable` is ready; the
    pollable is released afterwards."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, Loop):
        raise RuntimeError("sandnet.aio needs its event loop: run with aio.run(...) or "
                           "asyncio.run(...) after importing sandnet.aio")
    await loop.wait_for_pollable(pollable)


async def _read_all(response: Response, incoming: "_http.IncomingResponse") -> bytes:
    chunks = []
    try:
        while True:
            await ready(incoming.subscribe())
            chunk = call(incoming.read, READ_CHUNK)
            if chunk is None:
                return b"".join(chunks)
            chunks.append(bytes(chunk))
    except NetError as e:
        raise _exc.from_net_error(e, response.request, reading_body=True) from None
    finally:
        response.close()


async def _upload(prepared: PreparedRequest,
                  options: "_http.RequestOptions") -> "_http.PendingResponse":
    """Streams a `Multipart` body, waiting for room before each write so
    other tasks run meanwhile; returns the pending response."""
    body, form = start_upload(prepared, options)
    try:
        for chunk in form.chunks():
            await ready(body.subscribe())
            call(body.write, chunk)
    except BaseException:
        body.__exit__(None, None, None)  # cancels the request
        raise
    return call(_http.OutgoingBody.finish, body)


async def request(method: str, url: Any, *, timeout: Any = None, allow_redirects: bool = True,
                  verify: Any = True, session: Optional[Session] = None,
                  **kwargs: Any) -> Response:
    """Sends a request without blocking other tasks and returns the response
    with its body read; arguments as `sandnet.requests.request` (no `stream`)."""
    unsupported = {k: kwargs.pop(k) for k in list(kwargs)
                   if k not in ("params", "data", "json", "headers", "files", "auth", "cookies")}
    check_supported(verify, unsupported)
    prepared = (session or Session()).prepare_request(method, url, **kwargs)
    started = time.monotonic()
    try:
        options = options_for(timeout, allow_redirects, "accept-encoding" not in prepared.headers)
        if isinstance(prepared.body, Multipart):
            pending = await _upload(prepared, options)
        else:
            pending = call(_http.send, wit_of(prepared), options)
        await ready(pending.subscribe())
        incoming = outcome(pending)
    except NetError as e:
        raise _exc.from_net_error(e, prepared) from None
    response = streamed(incoming, prepared, started)
    response._content = await _read_all(response, incoming)
    return response


async def get(url: Any, **kwargs: Any) -> Response:
    return await request("GET", url, **kwargs)


async def options(url: Any, **kwargs: Any) -> Response:
    return await request("OPTIONS", url, **kwargs)


async def head(url: Any, **kwargs: Any) -> Response:
    kwargs.setdefault("allow_redirects", False)
    return await request("HEAD", url, **kwargs)


async def post(url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
    return await request("POST", url, data=data, json=json, **kwargs)


async def put(url: Any, data: Any = None, **kwargs: Any) -> Response:
    return await request("PUT", url, data=data, **kwargs)


async def patch(url: Any, data: Any = None, **kwargs: Any) -> Response:
    return await request("PATCH", url, data=data, **kwargs)


async def delete(url: Any, **kwargs: Any) -> Response:
    return await request("DELETE", url, **kwargs)
