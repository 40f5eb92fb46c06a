"""HTTP over `sandnet:net/http`: every request is checked by the host against
the guest's policy before anything leaves the sandbox.

    import sandnet

    r = sandnet.fetch("https://api.example.com/v1/items", method="POST",
                      body='{"name": "x"}',
                      headers={"content-type": "application/json"})
    print(r.status, r.header("content-type"), r.text())

`upload` streams a request body with progress; `Multipart` builds a
`multipart/form-data` body that `upload` streams. `fetch` and `Response` are
also importable from `sandnet` itself.
"""

import io
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

from componentize_py_types import Err
from wit_world.imports import http as _http
from wit_world.imports import poll as _poll

from .error import NetError, call
from .poll import wait_any

__all__ = ["FormPart", "Headers", "Incoming", "Multipart", "Progress", "Response", "fetch", "open",
           "outcome", "request_options", "upload", "wit_request", "write_body"]

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


# -- multipart/form-data ------------------------------------------------------
# Bodies (RFC 7578) of text fields and files (bytes, file objects or
# generators), produced chunk by chunk while `upload` sends them:
#
#     form = (Multipart()
#             .field("title", "holiday")
#             .file("photo", open("a.jpg", "rb"), content_type="image/jpeg")
#             .file("log", (line.encode() for line in lines), filename="log.txt"))
#     r = form.send("https://uploads.example.com/form",
#                   progress=lambda sent, total: print(sent, "of", total))
#
# `sandnet.requests` sends `files=` (with `data=` fields) the same way, and
# takes a `Multipart` as `data=`.

MULTIPART_CHUNK = 64 * 1024
"""Largest piece a multipart file object is read in (and a bytes part cut into)."""

FormContent = Union[bytes, bytearray, memoryview, str, Any]
"""What a part holds: bytes or str, a binary file object (`read(n)`), or an
iterable of bytes/str chunks (e.g. a generator)."""


def _quoted(value: str) -> str:
    """`value` as a quoted parameter: `"`, CR and LF percent-encoded, as
    browsers encode form-data names and file names."""
    escaped = value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return f'"{escaped}"'


def _as_bytes(chunk: Any) -> bytes:
    return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


def _size_of(content: FormContent) -> Optional[int]:
    """The byte size of `content` when it can be known without reading it:
    bytes, str, a seekable file (what is left from its position), else None."""
    if isinstance(content, str):
        return len(content.encode("utf-8"))
    if isinstance(content, memoryview):
        return content.nbytes
    if isinstance(content, (bytes, bytearray)):
        return len(content)
    if hasattr(content, "read"):
        try:
            if content.seekable():
                here = content.tell()
                end = content.seek(0, io.SEEK_END)
                content.seek(here)
                return end - here
        except (AttributeError, OSError, ValueError):
            pass
        try:
            return os.fstat(content.fileno()).st_size - content.tell()
        except (AttributeError, OSError, ValueError):
            return None
    return None


def _pieces(content: FormContent) -> Iterator[bytes]:
    """`content` as chunks of at most `MULTIPART_CHUNK` bytes (files are read as they go)."""
    if isinstance(content, (bytes, bytearray, memoryview, str)):
        data = _as_bytes(content)
        for start in range(0, len(data), MULTIPART_CHUNK):
            yield data[start:start + MULTIPART_CHUNK]
    elif hasattr(content, "read"):
        while chunk := content.read(MULTIPART_CHUNK):
            yield _as_bytes(chunk)
    elif isinstance(content, Iterable):
        for chunk in content:
            yield _as_bytes(chunk)
    else:
        raise TypeError("a multipart part must be bytes, str, a file object or an iterable "
                        f"of bytes, not {type(content).__name__}")


@dataclass
class FormPart:
    """One part: its header block (boundary line included) and content."""

    name: str
    head: bytes
    content: FormContent
    size: Optional[int]
    """Content bytes, or None when not known before sending."""


class Multipart:
    """A `multipart/form-data` body under construction; add parts with
    `field` and `file`, then `send` it (or hand `chunks()` to
    `sandnet.http.upload` with `content_type` and `total`)."""

    def __init__(self, boundary: Optional[str] = None) -> None:
        """`boundary`: for reproducible bodies (it must occur in no part);
        by default 128 random bits."""
        self.boundary = boundary or f"sandnet-{uuid.uuid4().hex}"
        self.parts: List[FormPart] = []

    def _head(self, name: str, filename: Optional[str], content_type: Optional[str]) -> bytes:
        head = f"--{self.boundary}\r\nContent-Disposition: form-data; name={_quoted(name)}"
        if filename is not None:
            kind = (content_type or "application/octet-stream").replace("\r", "").replace("\n", "")
            head += f"; filename={_quoted(filename)}\r\nContent-Type: {kind}"
        return (head + "\r\n\r\n").encode("utf-8")

    def field(self, name: str, value: Union[str, bytes]) -> "Multipart":
        """Adds a text field."""
        self.parts.append(FormPart(name, self._head(name, None, None), value, _size_of(value)))
        return self

    def file(self, name: str, content: FormContent, *, filename: Optional[str] = None,
             content_type: Optional[str] = None, size: Optional[int] = None) -> "Multipart":
        """Adds a file: bytes, a binary file object (read while sending, from
        its current position) or an iterable of chunks. `filename` defaults to
        the file object's base name; `content_type` to
        application/octet-stream. `size` (bytes) is needed for a generator to
        give the form a content-length; sending fails if the content yields a
        different number of bytes than announced."""
        if filename is None:
            filename = os.path.basename(str(getattr(content, "name", ""))) or name
        known = _size_of(content)
        if size is not None and known is not None and size != known:
            raise ValueError(f"multipart file {name!r}: size={size} but the content holds "
                             f"{known} bytes; leave size out or pass the real one")
        head = self._head(name, filename, content_type)
        self.parts.append(FormPart(name, head, content, size if size is not None else known))
        return self

    @property
    def content_type(self) -> str:
        """The `content-type` header value, boundary included."""
        return f"multipart/form-data; boundary={self.boundary}"

    def _closing(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode("ascii")

    @property
    def total(self) -> Optional[int]:
        """The body's length in bytes, or None if a part's size is unknown
        (the body is then sent chunked)."""
        if any(part.size is None for part in self.parts):
            return None
        return sum(len(p.head) + p.size + 2 for p in self.parts) + len(self._closing())

    def chunks(self) -> Iterator[bytes]:
        """The body, piece by piece (each file read as it is reached). Raises
        ValueError when a part yields another size than it announced."""
        for part in self.parts:
            yield part.head
            count = 0
            for piece in _pieces(part.content):
                count += len(piece)
                if part.size is not None and count > part.size:
                    raise ValueError(f"multipart part {part.name!r} announced {part.size} "
                                     "bytes but yields more")
                if piece:
                    yield piece
            if part.size is not None and count != part.size:
                raise ValueError(f"multipart part {part.name!r} announced {part.size} bytes "
                                 f"but ended after {count}")
            yield b"\r\n"
        yield self._closing()

    def send(self, url: str, *, method: str = "POST", headers: Optional[Headers] = None,
             progress: Optional[Progress] = None, **options: Any) -> Response:
        """Streams the form to `url` with `sandnet.http.upload` (content-type
        set here, content-length when `total` is known), calling
        `progress(sent, total)` after each chunk; returns the whole response.
        Options as `sandnet.http.fetch`; redirects are not followed."""
        return upload(url, self.chunks(), total=self.total, method=method,
                      headers=self.headers(headers), progress=progress, **options)

    def headers(self, extra: Optional[Headers] = None) -> List[Tuple[str, str]]:
        """`extra` (but a content-type of its own) plus this form's content-type."""
        kept = [(k, v) for k, v in header_list(extra) if k.lower() != "content-type"]
        return [*kept, ("content-type", self.content_type)]
