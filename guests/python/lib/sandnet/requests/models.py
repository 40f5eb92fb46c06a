"""`PreparedRequest` (what goes to the host) and `Response` (what comes back)
of `sandnet.requests`, with the `requests` attribute names: `status_code`, `ok`,
`headers`, `text`, `content`, `json()`, `raise_for_status()`, `iter_content()`.
"""

import base64
import codecs
import datetime
import json as _json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..error import NetError
from ..http import READ_CHUNK, Multipart
from . import exceptions as exc
from .structures import CaseInsensitiveDict

__all__ = ["PreparedRequest", "Response", "prepare"]


@dataclass
class PreparedRequest:
    """A request ready for the host: method upper-cased, params in the URL,
    body encoded."""

    method: str
    url: str
    headers: CaseInsensitiveDict
    body: Union[bytes, Multipart, None] = None
    """Bytes, or a `Multipart` form streamed while it is sent."""

    def __repr__(self) -> str:
        return f"<PreparedRequest [{self.method}]>"


def _with_params(url: str, params: Any) -> str:
    if not params:
        return url
    query = params if isinstance(params, (str, bytes)) else urlencode(
        list(params.items()) if isinstance(params, Mapping) else list(params), doseq=True)
    if isinstance(query, bytes):
        query = query.decode("ascii")
    parts = urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


def _check_url(url: Any) -> str:
    if not url:
        raise exc.URLRequired("a URL is required, e.g. requests.get(\"https://example.com/\")")
    url = str(url)
    if "://" not in url:
        raise exc.MissingSchema(f"invalid URL {url!r}: no scheme; perhaps you meant https://{url}?")
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise exc.InvalidSchema(f"no connection adapter for {url!r}: sandnet.requests speaks "
                                "http:// and https:// (use sandnet.websocket, sse, tcp for others)")
    return url.split("#", 1)[0]


def _form_fields(data: Any) -> List[Tuple[str, str]]:
    items = data.items() if isinstance(data, Mapping) else data
    fields = []
    for name, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        fields.extend((str(name), v if isinstance(v, (str, bytes)) else str(v)) for v in values)
    return fields


def _data_body(data: Any) -> Tuple[Optional[bytes], Optional[str]]:
    """(body, content-type) for `data=`."""
    if data is None:
        return None, None
    if isinstance(data, str):
        return data.encode("utf-8"), None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), None
    if hasattr(data, "read"):
        chunk = data.read()
        return (chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)), None
    if isinstance(data, Mapping) or (isinstance(data, list) and all(
            isinstance(item, tuple) for item in data)):
        return urlencode(_form_fields(data)).encode("ascii"), "application/x-www-form-urlencoded"
    if isinstance(data, Iterable):
        return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in data), None
    raise TypeError(f"data= must be str, bytes, a file, a dict or pairs, not {type(data).__name__}")


def _multipart(data: Any, files: Any) -> Multipart:
    """The streamed `multipart/form-data` body for `files=` (after the `data=`
    fields). A `files=` value is a file object, bytes/str, or a tuple
    (filename, fileobj_or_bytes[, content_type[, headers]]); files are read
    while the request is sent."""
    form = Multipart()
    for name, value in _form_fields(data or {}):
        form.field(name, value)
    for name, value in (files.items() if isinstance(files, Mapping) else files):
        filename, content, ctype = None, value, None
        if isinstance(value, tuple):
            filename, content = value[0], value[1]
            ctype = value[2] if len(value) > 2 else None
        form.file(str(name), content, filename=filename, content_type=ctype)
    return form


def prepare(method: str, url: Any, *, headers: Optional[Mapping[str, str]] = None,
            params: Any = None, data: Any = None, json: Any = None, files: Any = None,
            auth: Optional[Tuple[str, str]] = None) -> PreparedRequest:
    """Builds the request `requests` would send for these arguments."""
    url = _with_params(_check_url(url), params)
    merged = CaseInsensitiveDict(headers or {})
    body: Union[bytes, Multipart, None]
    if files:
        body = _multipart(data, files)
        ctype = body.content_type
    elif isinstance(data, Multipart):
        body, ctype = data, data.content_type
    elif data is not None:
        body, ctype = _data_body(data)
    elif json is not None:
        body, ctype = _json.dumps(json).encode("utf-8"), "application/json"
    else:
        body, ctype = None, None
    if ctype and "content-type" not in merged:
        merged["Content-Type"] = ctype
    if auth is not None:
        user, password = auth
        token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
        merged["Authorization"] = f"Basic {token}"
    for name, value in list(merged.items()):
        if value is None:
            del merged[name]
    return PreparedRequest(method.upper(), url, merged, body)


def _charset(content_type: Optional[str]) -> Optional[str]:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"'")
    return None


class Response:
    """The answer to a request (any status, 4xx and 5xx included).

    Redirects are followed by the host (each hop checked by the policy), so
    `history` is empty and `url` is the final URL.
    """

    def __init__(self, *, status_code: int, reason: str, headers: CaseInsensitiveDict,
                 url: str, request: PreparedRequest, elapsed: datetime.timedelta,
                 content: Optional[bytes] = None,
                 read: Optional[Callable[[int], Optional[bytes]]] = None,
                 release: Optional[Callable[[], None]] = None) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.url = url
        self.request = request
        self.elapsed = elapsed
        self.history: List["Response"] = []
        self.encoding: Optional[str] = _charset(headers.get("content-type"))
        self._content = content
        self._read = read
        self._release = release
        self._consumed = content is not None

    # -- status ---------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """True unless the status is 4xx or 5xx."""
        return self.status_code < 400

    def __bool__(self) -> bool:
        return self.ok

    @property
    def is_redirect(self) -> bool:
        return "location" in self.headers and self.status_code in (301, 302, 303, 307, 308)

    def raise_for_status(self) -> None:
        """Raises `HTTPError` for a 4xx or 5xx status."""
        if 400 <= self.status_code < 600:
            side = "Client" if self.status_code < 500 else "Server"
            raise exc.HTTPError(f"{self.status_code} {side} Error: {self.reason} for url: {self.url}",
                                response=self)

    # -- body -----------------------------------------------------------------
    def _chunks(self, size: int) -> Iterator[bytes]:
        if self._content is not None:
            for start in range(0, len(self._content), size):
                yield self._content[start:start + size]
            return
        if self._consumed:
            raise exc.StreamConsumedError("the streamed body was already read")
        self._consumed = True
        buffered = b""
        try:
            while True:
                try:
                    chunk = self._read(max(size, READ_CHUNK))
                except NetError as e:
                    raise exc.from_net_error(e, self.request, reading_body=True) from None
                if chunk is None:
                    break
                buffered += chunk
                while len(buffered) >= size:
                    yield buffered[:size]
                    buffered = buffered[size:]
            if buffered:
                yield buffered
        finally:
            self.close()

    def iter_content(self, chunk_size: Optional[int] = 1,
                     decode_unicode: bool = False) -> Iterator[Union[bytes, str]]:
        """The body in pieces of `chunk_size` bytes (None: as they arrive); with
        `stream=True` they are read from the network as you iterate."""
        size = chunk_size if chunk_size else READ_CHUNK
        if not decode_unicode:
            yield from self._chunks(size)
            return
        decoder = codecs.getincrementaldecoder(self.encoding or "utf-8")(errors="replace")
        for chunk in self._chunks(size):
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def iter_lines(self, chunk_size: int = 512, decode_unicode: bool = False,
                   delimiter: Optional[bytes] = None) -> Iterator[Union[bytes, str]]:
        """The body split into lines (without their endings)."""
        pending = None
        for chunk in self.iter_content(chunk_size, decode_unicode):
            if pending is not None:
                chunk = pending + chunk
            lines = chunk.split(delimiter) if delimiter else chunk.splitlines()
            pending = lines.pop() if lines and lines[-1] and chunk[-1:] == lines[-1][-1:] else None
            yield from lines
        if pending is not None:
            yield pending

    @property
    def content(self) -> bytes:
        """The whole body (read now if the response was streamed)."""
        if self._content is None:
            self._content = b"".join(self._chunks(READ_CHUNK))
        return self._content

    @property
    def text(self) -> str:
        """The body decoded with `encoding` (the content-type charset, else UTF-8)."""
        return self.content.decode(self.encoding or "utf-8", errors="replace")

    @property
    def apparent_encoding(self) -> str:
        return "utf-8"

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON; `JSONDecodeError` if it is not JSON."""
        try:
            return _json.loads(self.content.decode(self.encoding or "utf-8"), **kwargs)
        except (ValueError, UnicodeDecodeError) as e:
            raise exc.JSONDecodeError(f"response body is not JSON: {e}", response=self) from None

    def close(self) -> None:
        """Releases the connection of a streamed response (idempotent)."""
        if self._release is not None:
            self._release()
            self._release = None

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"
