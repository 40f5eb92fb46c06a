"""`multipart/form-data` bodies (RFC 7578) streamed through `sandnet.http.upload`:
text fields and files (bytes, file objects or generators), several files in
one request, the body produced chunk by chunk while it is sent and its length
computed up front when every size is known.

    from sandnet.multipart import Multipart

    form = (Multipart()
            .field("title", "holiday")
            .file("photo", open("a.jpg", "rb"), filename="a.jpg", content_type="image/jpeg")
            .file("log", (line.encode() for line in lines), filename="log.txt"))
    r = form.send("https://uploads.example.com/form",
                  progress=lambda sent, total: print(sent, "of", total))
    print(r.status)

`sandnet.requests` sends `files=` (with `data=` fields) the same way, and
takes a `Multipart` as `data=`.
"""

import io
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Tuple, Union

from . import http

__all__ = ["CHUNK", "Multipart", "Part"]

CHUNK = 64 * 1024
"""Largest piece a file object is read in (and a bytes part cut into)."""

Content = Union[bytes, bytearray, memoryview, str, Any]
"""What a part holds: bytes or str, a binary file object (`read(n)`), or an
iterable of bytes/str chunks (e.g. a generator)."""


def _quoted(value: str) -> str:
    """`value` as a quoted parameter: `"`, CR and LF percent-encoded, as
    browsers encode form-data names and file names."""
    escaped = value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return f'"{escaped}"'


def _as_bytes(chunk: Any) -> bytes:
    return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


def _size_of(content: Content) -> Optional[int]:
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


def _pieces(content: Content) -> Iterator[bytes]:
    """`content` as chunks of at most `CHUNK` bytes (files are read as they go)."""
    if isinstance(content, (bytes, bytearray, memoryview, str)):
        data = _as_bytes(content)
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]
    elif hasattr(content, "read"):
        while chunk := content.read(CHUNK):
            yield _as_bytes(chunk)
    elif isinstance(content, Iterable):
        for chunk in content:
            yield _as_bytes(chunk)
    else:
        raise TypeError("a multipart part must be bytes, str, a file object or an iterable "
                        f"of bytes, not {type(content).__name__}")


@dataclass
class Part:
    """One part: its header block (boundary line included) and content."""

    name: str
    head: bytes
    content: Content
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
        self.parts: List[Part] = []

    def _head(self, name: str, filename: Optional[str], content_type: Optional[str]) -> bytes:
        head = f"--{self.boundary}\r\nContent-Disposition: form-data; name={_quoted(name)}"
        if filename is not None:
            kind = (content_type or "application/octet-stream").replace("\r", "").replace("\n", "")
            head += f"; filename={_quoted(filename)}\r\nContent-Type: {kind}"
        return (head + "\r\n\r\n").encode("utf-8")

    def field(self, name: str, value: Union[str, bytes]) -> "Multipart":
        """Adds a text field."""
        self.parts.append(Part(name, self._head(name, None, None), value, _size_of(value)))
        return self

    def file(self, name: str, content: Content, *, filename: Optional[str] = None,
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
        self.parts.append(Part(name, head, content, size if size is not None else known))
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

    def send(self, url: str, *, method: str = "POST", headers: Optional[http.Headers] = None,
             progress: Optional[http.Progress] = None, **options: Any) -> http.Response:
        """Streams the form to `url` with `sandnet.http.upload` (content-type
        set here, content-length when `total` is known), calling
        `progress(sent, total)` after each chunk; returns the whole response.
        Options as `sandnet.http.fetch`; redirects are not followed."""
        return http.upload(url, self.chunks(), total=self.total, method=method,
                           headers=self.headers(headers), progress=progress, **options)

    def headers(self, extra: Optional[http.Headers] = None) -> List[Tuple[str, str]]:
        """`extra` (but a content-type of its own) plus this form's content-type."""
        kept = [(k, v) for k, v in http.header_list(extra) if k.lower() != "content-type"]
        return [*kept, ("content-type", self.content_type)]
