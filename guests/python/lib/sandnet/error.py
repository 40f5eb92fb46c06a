"""`NetError`: the `net-error` of `sandnet:net/types` as an exception, and
`call`, the one place a generated import's `Err` becomes a `NetError`.

    try:
        sandnet.fetch("https://example.com/")
    except sandnet.NetError as e:
        print(e)          # "denied: ..." plus a "hint: ..." line
"""

from typing import Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import types as _types

__all__ = ["NetError"]


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


def call(fn, *args):
    """`fn(*args)`, raising a generated import's `net-error` as `NetError`."""
    try:
        return fn(*args)
    except Err as e:
        raise NetError.from_wit(e.value) from None
