"""The exceptions of `sandnet.requests`, named and nested as in `requests`, so
`except requests.exceptions.ConnectionError` reads the same. Every one raised for
a host `net-error` carries it as `.net_error` (kind, reason, and for a denial the
policy line to add), and its message is the host's text with that hint.
"""

from typing import Any, Optional

from ..error import NetError

__all__ = [
    "RequestException", "HTTPError", "ConnectionError", "PolicyDenied", "SSLError",
    "Timeout", "ConnectTimeout", "ReadTimeout", "TooManyRedirects", "URLRequired",
    "MissingSchema", "InvalidSchema", "InvalidURL", "InvalidHeader",
    "ChunkedEncodingError", "ContentDecodingError", "StreamConsumedError",
    "LimitExceeded", "JSONDecodeError", "from_net_error",
]


class RequestException(IOError):
    """The base of every exception this package raises; `.request` is the
    prepared request (method, url) and `.response` the response, when known."""

    def __init__(self, *args: Any, response: Any = None, request: Any = None,
                 net_error: Optional[NetError] = None) -> None:
        super().__init__(*args)
        self.response = response
        self.request = request if request is not None else getattr(response, "request", None)
        self.net_error = net_error


class HTTPError(RequestException):
    """A 4xx or 5xx status, raised by `Response.raise_for_status()`."""


class ConnectionError(RequestException):  # noqa: A001 - the name `requests` uses
    """No connection: DNS, connect refused, closed, or refused by the policy."""


class PolicyDenied(ConnectionError):
    """The sandbox policy refused the target; `.suggestion` is the policy line
    that would allow it (None when a deny rule matched) and `.rule_line` the line
    of the rule that decided."""

    @property
    def suggestion(self) -> Optional[str]:
        return None if self.net_error is None else self.net_error.suggestion

    @property
    def rule_line(self) -> Optional[int]:
        return None if self.net_error is None else self.net_error.rule_line


class SSLError(ConnectionError):
    """TLS failed (certificate, handshake, pin)."""


class Timeout(RequestException):
    """A deadline passed; catch this for both kinds below."""


class ConnectTimeout(ConnectionError, Timeout):
    """Connecting (TCP + TLS) took longer than the connect timeout."""


class ReadTimeout(Timeout):
    """The server did not answer (or send more body) in time."""


class TooManyRedirects(RequestException):
    """The redirect chain was longer than allowed."""


class URLRequired(RequestException):
    """No URL was given."""


class MissingSchema(RequestException, ValueError):
    """The URL has no scheme (e.g. "example.com/x")."""


class InvalidSchema(RequestException, ValueError):
    """The URL's scheme is not http or https."""


class InvalidURL(RequestException, ValueError):
    """The URL cannot be parsed."""


class InvalidHeader(RequestException, ValueError):
    """A header name or value is invalid, or is one the host manages."""


class ChunkedEncodingError(RequestException):
    """The connection broke while the body was being read."""


class ContentDecodingError(RequestException):
    """The body could not be decoded."""


class StreamConsumedError(RequestException, TypeError):
    """The streamed body was already read."""


class LimitExceeded(RequestException):
    """A sandbox limit was hit (body size, byte quota, rate); `.limit` is
    (name, value)."""

    @property
    def limit(self):
        return None if self.net_error is None else self.net_error.limit


class JSONDecodeError(RequestException, ValueError):
    """`Response.json()` found no valid JSON."""


_BY_KIND = {
    "denied": PolicyDenied,
    "dns": ConnectionError,
    "connect": ConnectionError,
    "closed": ConnectionError,
    "tls": SSLError,
    "limit-exceeded": LimitExceeded,
}


def from_net_error(error: NetError, request: Any = None,
                   reading_body: bool = False) -> RequestException:
    """The `requests`-style exception for a host `net-error`."""
    kind = error.kind
    if kind == "timeout":
        cls = ConnectTimeout if error.reason == "connect" else ReadTimeout
    elif kind == "protocol" and "redirect" in error.reason:
        cls = TooManyRedirects
    elif kind == "invalid-argument":
        reason = error.reason.lower()
        cls = InvalidHeader if "header" in reason else (
            InvalidURL if "url" in reason or "host" in reason else RequestException)
    elif reading_body and kind in ("closed", "protocol", "connect"):
        cls = ChunkedEncodingError
    else:
        cls = _BY_KIND.get(kind, ConnectionError)
    return cls(str(error), request=request, net_error=error)
