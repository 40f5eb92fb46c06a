"""HTTP over `sandnet:net/http`: every request is checked by the host against
the guest's policy before anything leaves the sandbox.

    import sandnet

    r = sandnet.fetch("https://api.example.com/v1/items", method="POST",
                      body='{"name": "x"}',
                      headers={"content-type": "application/json"})
    print(r.status, r.header("content-type"), r.text())

`fetch` and `Response` are also importable from `sandnet` itself.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

from componentize_py_types import Err
from wit_world.imports import http as _http
from wit_world.imports import poll as _poll

from .error import NetError, call
from .poll import wait_any

__all__ = ["Headers", "Incoming", "Progress", "Response", "fetch", "open", "outcome",
           "request_options", "upload", "wit_request", "write_body"]

Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]]]
"""Request headers: a mapping, or (name, value) pairs (names may repeat)."""


def header_list(headers: Optional[Headers]) -> List[Tuple[str, str]]:
    """`headers` as the WIT `headers` list (also for WebSocket and SSE requests)."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


@dataclass
class Response:
    """A complete HTTP response (any status, 4xx and 5xx included)."""

    status: int
    reason: str
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    url: str = ""
    attempts: int = 1
    """Attempts made (1 unless `retries` retried the request)."""

    def header(self, name: str) -> Optional[str]:
        """The first value of header `name` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def text(self, encoding: str = "utf-8") -> str:
        """The body decoded as text, undecodable bytes replaced."""
        return self.body.decode(encoding, errors="replace")


_METHODS = {
    "GET": _http.Method_Get,
    "HEAD": _http.Method_Head,
    "POST": _http.Method_Post,
    "PUT": _http.Method_Put,
    "PATCH": _http.Method_Patch,
    "DELETE": _http.Method_Delete,
    "OPTIONS": _http.Method_Options,
    "TRACE": _http.Method_Trace,
    "CONNECT": _http.Method_Connect,
}


def _method(name: str) -> "_http.Method":
    known = _METHODS.get(name.upper())
    return known() if known is not None else _http.Method_Other(name)


def request_options(*, timeout_ms: Optional[int] = None,
                    connect_timeout_ms: Optional[int] = None,
                    first_byte_timeout_ms: Optional[int] = None,
                    max_redirects: Optional[int] = None,
                    max_body_bytes: Optional[int] = None,
                    retries: Optional[int] = None,
                    retry_backoff_ms: Optional[int] = None,
                    retry_non_idempotent: bool = False,
                    decode: bool = False) -> "_http.RequestOptions":
    """The WIT `request-options`; unset fields take the policy's limits or the
    host's defaults (an option can only tighten the policy).

    `timeout_ms` is the total deadline. `retries`: attempts after a failed
    one (connect errors, connect and first-byte timeouts, a lost connection,
    408/429/502/503/504), with exponential backoff from `retry_backoff_ms`
    (default 250) and jitter, or the server's Retry-After; only idempotent
    methods unless `retry_non_idempotent`. `decode`: ask for
    gzip/deflate/br/zstd and get the decoded body."""
    return _http.RequestOptions(connect_timeout_ms, first_byte_timeout_ms,
                                timeout_ms, max_redirects, max_body_bytes,
                                retries, retry_backoff_ms,
                                True if retry_non_idempotent else None,
                                True if decode else None)


def wit_request(method: str, url: str, body: Union[bytes, str, None] = None,
                headers: Optional[Headers] = None) -> "_http.Request":
    """The WIT `request`; a str `body` is sent as UTF-8."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return _http.Request(_method(method), url, header_list(headers), body)


def fetch(url: str, method: str = "GET", body: Union[bytes, str, None] = None,
          headers: Optional[Headers] = None, **options: Any) -> Response:
    """Sends one request through the host and returns the whole response.

    `method` is any method name (standard ones in any case); a str `body` is
    sent as UTF-8. `options` are those of `request_options` (`timeout_ms`,
    `connect_timeout_ms`, `first_byte_timeout_ms`, `max_redirects`,
    `max_body_bytes`, `retries`, `retry_backoff_ms`, `retry_non_idempotent`,
    `decode`); unset ones take the policy's limits or the host's defaults.
    `Response.attempts` tells how many attempts ran. Raises `NetError` when no
    response arrives (denied by the policy, DNS, connect, TLS, timeout, ...).
    """
    raw = call(_http.fetch, wit_request(method, url, body, headers),
               request_options(**options))
    return Response(raw.status, raw.reason, list(raw.headers), bytes(raw.body), raw.url,
                    raw.attempts)


def outcome(pending: "_http.PendingResponse") -> "_http.IncomingResponse":
    """The incoming response of a pending response that is ready (its
    `subscribe()` fired); raises `NetError` if the request failed. Releases
    `pending`."""
    result = pending.get()
    pending.__exit__(None, None, None)
    if result is None:
        raise NetError("invalid-argument", "pending response read before it was ready")
    if isinstance(result, Err):
        raise NetError.from_wit(result.value)
    return result.value


READ_CHUNK = 64 * 1024
"""Bytes asked of the host per read of a streamed body by default."""


class Incoming:
    """A response whose body is read as it arrives (`open`): `status`,
    `reason`, `headers`, `url`, then `read()` or iteration; `close()` (or
    `with`) releases the connection early."""

    def __init__(self, raw: "_http.IncomingResponse") -> None:
        self._raw: Optional["_http.IncomingResponse"] = raw
        self.status: int = raw.status()
        self.reason: str = raw.reason()
        self.headers: List[Tuple[str, str]] = list(raw.headers())
        self.url: str = raw.url()

    def header(self, name: str) -> Optional[str]:
        """The first value of header `name` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def read(self, max_bytes: int = READ_CHUNK) -> Optional[bytes]:
        """Up to `max_bytes` of body (waits for some); None at the end."""
        if self._raw is None:
            return None
        chunk = call(self._raw.read, max_bytes)
        return None if chunk is None else bytes(chunk)

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self.read()) is not None:
            yield chunk

    def subscribe(self) -> "_poll.Pollable":
        """Ready when `read` would not wait."""
        if self._raw is None:
            raise NetError("closed", "response already closed")
        return self._raw.subscribe()

    def close(self) -> None:
        """Releases the response (idempotent)."""
        if self._raw is not None:
            self._raw.__exit__(None, None, None)
            self._raw = None

    def __enter__(self) -> "Incoming":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(url: str, method: str = "GET", body: Union[bytes, str, None] = None,  # noqa: A001
         headers: Optional[Headers] = None, **options: Any) -> Incoming:
    """Sends a request and returns once the response head is in; the body is
    then read in pieces (for downloads bigger than guest memory). Options as
    `fetch`."""
    pending = call(_http.send, wit_request(method, url, body, headers),
                   request_options(**options))
    wait_any([pending.subscribe()])
    return Incoming(outcome(pending))


Progress = Callable[[int, Optional[int]], None]
"""`progress(sent, total)`: body bytes the connection took, and the announced
total (None for a chunked body)."""


def write_body(body: "_http.OutgoingBody", chunks: Iterable[Union[bytes, str]],
               progress: Optional[Progress] = None) -> "_http.PendingResponse":
    """Writes `chunks` (bytes or str) to a streamed request body, calling
    `progress` after each one, and ends it; returns the pending response. An
    exception (from `chunks` or the host) cancels the request and propagates."""
    try:
        for chunk in chunks:
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            call(body.write, bytes(chunk))
            if progress is not None:
                done = body.progress()
                progress(done.sent, done.total)
    except BaseException:
        body.__exit__(None, None, None)  # cancels the request
        raise
    return call(_http.OutgoingBody.finish, body)


def upload(url: str, chunks: Iterable[Union[bytes, str]], *, total: Optional[int] = None,
           method: str = "POST", headers: Optional[Headers] = None,
           progress: Optional[Progress] = None, **options: Any) -> Response:
    """Streams a request body from `chunks` (bytes or str pieces), calling
    `progress(sent, total)` after each one, and returns the whole response.
    `total` (bytes) is sent as content-length; without it the body is chunked.
    Redirects are not followed (the body cannot be replayed)."""
    body = call(_http.upload, wit_request(method, url, None, headers), total,
                request_options(**options))
    pending = write_body(body, chunks, progress)
    wait_any([pending.subscribe()])
    with Incoming(outcome(pending)) as incoming:
        data = b"".join(incoming)
        return Response(incoming.status, incoming.reason, incoming.headers, data, incoming.url)
