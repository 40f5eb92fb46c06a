"""`CaseInsensitiveDict`, the header mapping of `sandnet.requests` (as in
`requests.structures`): `r.headers["Content-Type"] == r.headers["content-type"]`."""

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Iterator, Optional, Tuple

__all__ = ["CaseInsensitiveDict"]


class CaseInsensitiveDict(MutableMapping):
    """A dict whose str keys compare case-insensitively; iteration gives the
    keys as last set."""

    def __init__(self, data: Optional[Any] = None, **kwargs: Any) -> None:
        self._store: dict = {}
        self.update(data or {}, **kwargs)

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key: str) -> Any:
        return self._store[key.lower()][1]

    def __delitem__(self, key: str) -> None:
        del self._store[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def lower_items(self) -> Iterator[Tuple[str, Any]]:
        """(lower-case key, value) pairs."""
        return ((low, kv[1]) for low, kv in self._store.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            other = CaseInsensitiveDict(other)
        else:
            return NotImplemented
        return dict(self.lower_items()) == dict(other.lower_items())

    def copy(self) -> "CaseInsensitiveDict":
        return CaseInsensitiveDict(self._store.values())

    def __repr__(self) -> str:
        return str(dict(self.items()))


def from_pairs(pairs: Iterable[Tuple[str, str]]) -> CaseInsensitiveDict:
    """Response headers as `requests` shows them: repeated names joined by ", "."""
    headers = CaseInsensitiveDict()
    for name, value in pairs:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
