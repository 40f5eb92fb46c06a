"""How a `PreparedRequest` reaches the host: the `requests` arguments that are
options (`timeout`, `allow_redirects`) become WIT `request-options`, and the
request goes out through `sandnet:net/http` (`fetch` for a buffered body, `send`
for `stream=True`, `upload` for a `Multipart` body, streamed). `sandnet.aio`
reuses all of it but the waiting.
"""

import datetime
import time
from typing import Optional, Tuple, Union

from wit_world.imports import http as _http

from ..error import NetError, call
from ..http import Multipart, outcome, request_options, wit_request, write_body
from ..poll import wait_any
from . import exceptions as exc
from .models import PreparedRequest, Response
from .structures import from_pairs

__all__ = ["MAX_REDIRECTS", "options_for", "send", "start_upload"]

MAX_REDIRECTS = 30
"""Redirects followed when `allow_redirects` is true (as `requests`); the
policy's `max_redirects` caps it."""

Timeout = Union[None, float, Tuple[Optional[float], Optional[float]]]


def _ms(seconds: Optional[float]) -> Optional[int]:
    if seconds is None:
        return None
    if seconds < 0:
        raise ValueError(f"timeout must be a non-negative number of seconds, not {seconds!r}")
    return max(1, min(int(seconds * 1000), 0xFFFF_FFFF))


def options_for(timeout: Timeout, allow_redirects: bool,
                decode: bool = True) -> "_http.RequestOptions":
    """`timeout` (seconds, or (connect, read)) as the connect and first-byte
    deadlines; the host's total deadline (the policy's `total_timeout`) still
    applies. `allow_redirects` as a redirect count. `decode`: the host asks
    for gzip/deflate/br/zstd and hands over the decoded body, as `requests`
    does (off when the caller set its own Accept-Encoding)."""
    if isinstance(timeout, tuple):
        connect, read = timeout
    else:
        connect = read = timeout
    return request_options(connect_timeout_ms=_ms(connect), first_byte_timeout_ms=_ms(read),
                           max_redirects=MAX_REDIRECTS if allow_redirects else 0,
                           decode=decode)


def wit_of(prepared: PreparedRequest) -> "_http.Request":
    """The WIT request for `prepared` (without its body when that is streamed)."""
    body = prepared.body if isinstance(prepared.body, bytes) else None
    return wit_request(prepared.method, prepared.url, body, list(prepared.headers.items()))


def start_upload(prepared: PreparedRequest,
                 options: "_http.RequestOptions") -> Tuple["_http.OutgoingBody", Multipart]:
    """Starts `prepared`, whose body is a `Multipart`, as a streamed upload
    (content-length when the form's size is known)."""
    form = prepared.body
    assert isinstance(form, Multipart)
    return call(_http.upload, wit_of(prepared), form.total, options), form


def streamed(incoming: "_http.IncomingResponse", prepared: PreparedRequest,
             started: float, content: Optional[bytes] = None) -> Response:
    """A `Response` over an incoming response whose body is read as needed
    (or is `content`, already read)."""

    def read(max_bytes: int) -> Optional[bytes]:
        chunk = call(incoming.read, max_bytes)
        return None if chunk is None else bytes(chunk)

    def release() -> None:
        incoming.__exit__(None, None, None)

    return Response(status_code=incoming.status(), reason=incoming.reason(),
                    headers=from_pairs(incoming.headers()), url=incoming.url(),
                    request=prepared, elapsed=_since(started), content=content,
                    read=None if content is not None else read,
                    release=release)


def _since(started: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=time.monotonic() - started)


def send(prepared: PreparedRequest, *, timeout: Timeout = None, allow_redirects: bool = True,
         stream: bool = False) -> Response:
    """Sends `prepared` through the host, waiting for the response head (and
    the whole body unless `stream`)."""
    options = options_for(timeout, allow_redirects, "accept-encoding" not in prepared.headers)
    started = time.monotonic()
    try:
        if isinstance(prepared.body, Multipart):
            body, form = start_upload(prepared, options)
            pending = write_body(body, form.chunks())
            wait_any([pending.subscribe()])
            response = streamed(outcome(pending), prepared, started)
            if not stream:
                response.content  # noqa: B018 (reads the body now, as requests does)
            return response
        if not stream:
            raw = call(_http.fetch, wit_of(prepared), options)
            return Response(status_code=raw.status, reason=raw.reason,
                            headers=from_pairs(raw.headers), url=raw.url, request=prepared,
                            elapsed=_since(started), content=bytes(raw.body))
        pending = call(_http.send, wit_of(prepared), options)
        wait_any([pending.subscribe()])
        return streamed(outcome(pending), prepared, started)
    except NetError as e:
        raise exc.from_net_error(e, prepared) from None
