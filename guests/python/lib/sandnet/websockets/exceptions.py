"""The exceptions of `sandnet.websockets`, named as in the `websockets` package:
`ConnectionClosed` (with `rcvd`, `sent`, `code`, `reason`) and its OK/Error
halves, `InvalidURI`, `InvalidHandshake`, plus `PolicyDenied` for a connection
the sandbox policy refused (an `OSError`, like a refused connection)."""

from dataclasses import dataclass
from typing import Optional

from ..error import NetError

__all__ = ["WebSocketException", "ConnectionClosed", "ConnectionClosedOK",
           "ConnectionClosedError", "InvalidURI", "InvalidHandshake", "PolicyDenied",
           "Close", "OK_CLOSE_CODES", "from_net_error"]

OK_CLOSE_CODES = (1000, 1001, 1005)
"""Close codes of a clean close (1005: the peer gave no code)."""


@dataclass
class Close:
    """A close frame: its code and reason."""
    code: int
    reason: str


class WebSocketException(Exception):
    """The base of this package's exceptions; `.net_error` is the host's
    `net-error` when one caused it."""

    net_error: Optional[NetError] = None


class ConnectionClosed(WebSocketException):
    """The connection is closed; `rcvd` is the peer's close frame (None if the
    connection broke without one) and `sent` ours (None if we sent none)."""

    def __init__(self, rcvd: Optional[Close], sent: Optional[Close],
                 net_error: Optional[NetError] = None) -> None:
        self.rcvd = rcvd
        self.sent = sent
        self.net_error = net_error
        super().__init__(str(self))

    @property
    def code(self) -> int:
        """The peer's close code; 1006 when the connection broke without one."""
        return 1006 if self.rcvd is None else self.rcvd.code

    @property
    def reason(self) -> str:
        """The peer's close reason ("" when none)."""
        return "" if self.rcvd is None else self.rcvd.reason

    def __str__(self) -> str:
        if self.rcvd is None:
            why = str(self.net_error) if self.net_error is not None else "no close frame"
            return f"connection closed abnormally (1006): {why}"
        return f"received {self.rcvd.code} ({self.rcvd.reason or 'no reason'})"


class ConnectionClosedOK(ConnectionClosed):
    """Closed cleanly: code 1000, 1001 or none."""


class ConnectionClosedError(ConnectionClosed):
    """Closed with an error code, or broken without a close frame."""


class InvalidURI(WebSocketException, ValueError):
    """The URI is not a valid ws:// or wss:// URL."""


class InvalidHandshake(WebSocketException):
    """The opening handshake failed (the server refused the upgrade, TLS, ...)."""


class PolicyDenied(WebSocketException, ConnectionError):
    """The sandbox policy refused the connection; the message names the policy
    line to add (`.net_error.suggestion`)."""


def closed(rcvd: Optional[Close], sent: Optional[Close],
           net_error: Optional[NetError] = None) -> ConnectionClosed:
    """`ConnectionClosedOK` or `ConnectionClosedError` as the codes say."""
    clean = rcvd is not None and rcvd.code in OK_CLOSE_CODES
    cls = ConnectionClosedOK if clean else ConnectionClosedError
    return cls(rcvd, sent, net_error)


def from_net_error(error: NetError) -> Exception:
    """The exception `connect` raises for a host `net-error`."""
    if error.kind == "timeout":
        result: Exception = TimeoutError(str(error))
    elif error.kind == "denied":
        result = PolicyDenied(str(error))
    elif error.kind == "invalid-argument":
        result = InvalidURI(str(error))
    elif error.kind in ("dns", "connect"):
        result = ConnectionRefusedError(str(error))
    else:
        result = InvalidHandshake(str(error))
    result.net_error = error  # type: ignore[attr-defined]
    return result
