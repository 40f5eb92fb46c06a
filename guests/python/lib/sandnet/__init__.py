"""Idiomatic Python API for sandnet guests, over the componentize-py bindings
of the `sandnet:net` WIT package (world `script`).

    import sandnet

    try:
        r = sandnet.fetch("https://api.example.com/v1/status",
                          headers={"accept": "application/json"})
        print(r.status, r.text())
    except sandnet.NetError as e:
        print(e)          # e.g. "denied: ..." plus a "hint: ..." line
        print(e.kind)     # "denied", "dns", "timeout", "limit-exceeded", ...

HTTP lives here; the other protocols are submodules:
`from sandnet import websocket, sse, tcp, udp`.

To end a run with a given status use `sandnet.exit(code)`: under
componentize-py 0.25.1 `sys.exit(code)` reports any nonzero code as 1.
(`sys.argv` and `os.environ` do hold the run's arguments and environment.)
"""

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from componentize_py_types import Err
from wit_world.imports import exit as _exit
from wit_world.imports import http as _http
from wit_world.imports import types as _types

__all__ = ["NetError", "Response", "fetch", "exit"]

Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]]]


class NetError(Exception):
    """A `net-error` from the host: the call reached no response.

    Attributes:
        kind: the WIT case name: "denied", "dns", "connect", "tls", "timeout",
            "closed", "limit-exceeded", "protocol" or "invalid-argument".
        reason: the message; for "timeout" the deadline ("connect",
            "first-byte", "total", "idle"); for "limit-exceeded" the limit and
            its value, e.g. "max_body_bytes (10485760)".
        suggestion: for "denied", the policy line that would allow the target
            (None when a deny rule matched); None otherwise.
        rule_line: for "denied", the policy line whose rule decided, if any.
        limit: for "limit-exceeded", (name, value); None otherwise.
    """

    def __init__(self, kind: str, reason: str, suggestion: Optional[str] = None,
                 rule_line: Optional[int] = None,
                 limit: Optional[Tuple[str, int]] = None) -> None:
        super().__init__(kind, reason)
        self.kind = kind
        self.reason = reason
        self.suggestion = suggestion
        self.rule_line = rule_line
        self.limit = limit

    def __str__(self) -> str:
        text = f"{self.kind}: {self.reason}"
        if self.suggestion is not None:
            text += f"\nhint: add to the policy's allow list: {self.suggestion}"
        return text

    @classmethod
    def from_wit(cls, raw: "_types.NetError") -> "NetError":
        """Converts the generated `NetError_*` dataclass."""
        if isinstance(raw, _types.NetError_Denied):
            d = raw.value
            return cls("denied", d.reason, d.suggestion, d.rule_line)
        if isinstance(raw, _types.NetError_Timeout):
            return cls("timeout", raw.value.name.lower().replace("_", "-"))
        if isinstance(raw, _types.NetError_LimitExceeded):
            hit = raw.value
            return cls("limit-exceeded", f"{hit.name} ({hit.value})",
                       limit=(hit.name, hit.value))
        kinds = {
            _types.NetError_Dns: "dns",
            _types.NetError_Connect: "connect",
            _types.NetError_Tls: "tls",
            _types.NetError_Closed: "closed",
            _types.NetError_Protocol: "protocol",
            _types.NetError_InvalidArgument: "invalid-argument",
        }
        return cls(kinds.get(type(raw), "unknown"), str(raw.value))


@dataclass
class Response:
    """A complete HTTP response (any status, 4xx and 5xx included)."""

    status: int
    reason: str
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    url: str = ""

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
          max_body_bytes: Optional[int] = None) -> Response:
    """Sends one request through the host and returns the whole response.

    `method` is any method name (standard ones in any case); a str `body` is
    sent as UTF-8. Unset options take the policy's limits or the host's
    defaults; `timeout_ms` is the total deadline. Raises `NetError` when no
    response arrives (denied by the policy, DNS, connect, TLS, timeout, ...).
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    if headers is None:
        header_list: List[Tuple[str, str]] = []
    elif isinstance(headers, Mapping):
        header_list = list(headers.items())
    else:
        header_list = list(headers)
    request = _http.Request(_method(method), url, header_list, body)
    options = _http.RequestOptions(connect_timeout_ms, first_byte_timeout_ms,
                                   timeout_ms, max_redirects, max_body_bytes)
    try:
        raw = _http.fetch(request, options)
    except Err as e:
        raise NetError.from_wit(e.value) from None
    return Response(raw.status, raw.reason, list(raw.headers), bytes(raw.body), raw.url)


def exit(code: int) -> None:
    """Flushes stdout and stderr, then ends the run with status `code` (0-255).

    Calls `wasi:cli/exit.exit-with-code` directly, so the host sees the exact
    code (`sys.exit(code)` under componentize-py 0.25.1 reports any nonzero
    code as 1).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    _exit.exit_with_code(code)
