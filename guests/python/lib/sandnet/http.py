"""HTTP over `sandnet:net/http`: every request is checked by the host against
the guest's policy before anything leaves the sandbox.

    import sandnet

    r = sandnet.fetch("https://api.example.com/v1/items", method="POST",
                      body='{"name": "x"}',
                      headers={"content-type": "application/json"})
    print(r.status, r.header("content-type"), r.text())

`fetch` and `Response` are also importable from `sandnet` itself.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from wit_world.imports import http as _http

from .error import call

__all__ = ["Headers", "Response", "fetch"]

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


def fetch(url: str, method: str = "GET", body: Union[bytes, str, None] = None,
          headers: Optional[Headers] = None, *,
          timeout_ms: Optional[int] = None,
          connect_timeout_ms: Optional[int] = None,
          first_byte_timeout_ms: Optional[int] = None,
          max_redirects: Optional[int] = None,
          max_body_bytes: Optional[int] = None,
          retries: Optional[int] = None,
          retry_backoff_ms: Optional[int] = None,
          retry_non_idempotent: bool = False,
          decode: bool = False) -> Response:
    """Sends one request through the host and returns the whole response.

    `method` is any method name (standard ones in any case); a str `body` is
    sent as UTF-8. Unset options take the policy's limits or the host's
    defaults; `timeout_ms` is the total deadline. Raises `NetError` when no
    response arrives (denied by the policy, DNS, connect, TLS, timeout, ...).

    `retries`: attempts after a failed one (connect errors, connect and
    first-byte timeouts, a lost connection, 408/429/502/503/504), with
    exponential backoff from `retry_backoff_ms` (default 250) and jitter, or
    the server's Retry-After; only idempotent methods unless
    `retry_non_idempotent`. `Response.attempts` tells how many ran.
    `decode`: ask for gzip/deflate/br/zstd and get the decoded body.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    request = _http.Request(_method(method), url, header_list(headers), body)
    options = _http.RequestOptions(connect_timeout_ms, first_byte_timeout_ms,
                                   timeout_ms, max_redirects, max_body_bytes,
                                   retries, retry_backoff_ms,
                                   True if retry_non_idempotent else None,
                                   True if decode else None)
    raw = call(_http.fetch, request, options)
    return Response(raw.status, raw.reason, list(raw.headers), bytes(raw.body), raw.url,
                    raw.attempts)
