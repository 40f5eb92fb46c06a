"""Resumable uploads with tus 1.0 (https://tus.io/protocols/resumable-upload):
creation (`POST` with Upload-Length), the server's offset (`HEAD`), `PATCH`
chunks streamed through `sandnet.http.upload`, and termination (`DELETE`).
An upload survives a dropped connection, can be paused and resumed from its
URL (in this run or a later one) and can be cancelled.

    from sandnet import tus

    def on_progress(offset, total):
        print(f"{offset}/{total}")
        return tus.CONTINUE          # or tus.PAUSE, or tus.CANCEL

    upload = tus.Upload(data, chunk_size=1 << 20, on_progress=on_progress)
    outcome = upload.start("https://up.example.com/files")
    if outcome.state == "paused":
        outcome = upload.resume(outcome.url)   # HEAD, then PATCHes from there
    print(outcome.state, outcome.url, outcome.resumes)

The policy needs `POST` on the creation URL and `HEAD,PATCH,DELETE` on the
uploads (docs/http.md, "Resumable uploads (tus)").
"""

import io
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, Optional, Union

from . import http
from .error import NetError

__all__ = ["CANCEL", "CONTINUE", "PAUSE", "TUS_VERSION", "Outcome", "Upload", "offset",
           "terminate"]

TUS_VERSION = "1.0.0"
"""The protocol version sent in Tus-Resumable."""

CONTINUE = None
"""`on_progress` result: send the next chunk (returning nothing does too)."""
PAUSE = "pause"
"""`on_progress` result: stop after this chunk; the upload stays on the server."""
CANCEL = "cancel"
"""`on_progress` result: stop and delete the upload on the server (`DELETE`)."""

PIECE = 64 * 1024
"""Largest piece of a PATCH body handed to the host per write."""

_NOT_RESUMED = {"denied", "limit-exceeded", "invalid-argument"}
"""Failures of a PATCH that resuming cannot fix (the policy, a limit, the request)."""


@dataclass
class Outcome:
    """How `Upload.start` / `Upload.resume` ended.

    state: "done" (the server holds every byte), "paused" (resume with
    `Upload.resume(url)`) or "cancelled" (the server deleted the upload).
    url: the upload's URL. offset: bytes the server confirmed. resumes:
    failed PATCHes resumed from the server's offset."""

    state: str
    url: str
    offset: int
    resumes: int = 0


def _protocol(message: str) -> NetError:
    return NetError("protocol", message)


def _number(response: http.Response, name: str) -> int:
    value = (response.header(name) or "").strip()
    if not value.isdigit():
        raise _protocol(f"tus server answered {response.status} without a numeric {name}")
    return int(value)


def _resolve(base: str, location: str) -> str:
    """`location` (absolute, or a path) resolved against `base`'s origin."""
    if "://" in location:
        return location
    scheme_end = base.find("://")
    path_start = base.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    origin = base if path_start < 0 else base[:path_start]
    return origin + location


def offset(url: str) -> int:
    """The server's offset for the upload at `url` (`HEAD`)."""
    r = http.fetch(url, method="HEAD", headers={"tus-resumable": TUS_VERSION})
    if not 200 <= r.status < 300:
        raise _protocol(f"tus upload {url} answered HEAD with {r.status} "
                        "(gone, or not a tus upload)")
    return _number(r, "upload-offset")


def _within_the_data(at: int, total: int) -> int:
    """The offset a HEAD reported, which must lie within the `total` bytes of
    the data: a server claiming bytes the client never had has lost or mixed
    up the upload, so this is a protocol error, never a finished upload."""
    if at > total:
        raise _protocol(f"tus server reports offset {at} past the {total} bytes")
    return at


def terminate(url: str) -> None:
    """Deletes the upload at `url` (`DELETE`, tus termination), e.g. a paused
    one that is no longer wanted."""
    r = http.fetch(url, method="DELETE", headers={"tus-resumable": TUS_VERSION})
    if not 200 <= r.status < 300:
        raise _protocol(f"tus termination of {url} answered {r.status}, expected 204")


class Upload:
    """A tus upload of `data`: bytes-like, or a binary file opened for reading
    that can seek (a resume reads from the server's offset).

    chunk_size: largest PATCH body (keep it under the policy's
    max_body_bytes). on_progress(offset, total): called after every chunk the
    server confirmed (and after every resume); returns CONTINUE (or None),
    PAUSE or CANCEL. max_resumes: failed PATCHes resumed before the upload
    fails. `pause()` and `cancel()` ask the same from outside the callback;
    they take effect after the current chunk."""

    def __init__(self, data: Union[bytes, bytearray, memoryview, BinaryIO], *,
                 chunk_size: int = 4 * 1024 * 1024,
                 on_progress: Optional[Callable[[int, int], Optional[str]]] = None,
                 max_resumes: int = 5) -> None:
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._view: Optional[memoryview] = memoryview(data).cast("B")
            self._file: Optional[BinaryIO] = None
            self.size = len(self._view)
        else:
            self._view = None
            self._file = data
            self.size = data.seek(0, io.SEEK_END)
        self.chunk_size = max(1, chunk_size)
        self.on_progress = on_progress
        self.max_resumes = max_resumes
        self._asked: Optional[str] = None

    def pause(self) -> None:
        """Pause after the current chunk (as returning PAUSE does)."""
        self._asked = PAUSE

    def cancel(self) -> None:
        """Cancel after the current chunk (as returning CANCEL does)."""
        self._asked = CANCEL

    def create(self, create_url: str) -> str:
        """Creates the upload at `create_url` (`POST`) and returns its URL."""
        r = http.fetch(create_url, method="POST",
                       headers={"tus-resumable": TUS_VERSION,
                                "upload-length": str(self.size)})
        if r.status != 201:
            raise _protocol(f"tus creation at {create_url} answered {r.status}, expected 201")
        location = r.header("location")
        if location is None:
            raise _protocol(f"tus creation at {create_url} gave no Location")
        return _resolve(create_url, location)

    def start(self, create_url: str) -> Outcome:
        """Creates the upload at `create_url`, then sends it as `resume` does."""
        return self.resume(self.create(create_url))

    def _pieces(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes `start` to `end` of the data, at most `PIECE` at a time (a
        file is read as the PATCH is sent)."""
        if self._file is not None:
            self._file.seek(start)
        for at in range(start, end, PIECE):
            n = min(PIECE, end - at)
            if self._view is not None:
                yield bytes(self._view[at:at + n])
            elif self._file is not None:
                yield self._file.read(n)

    def _patch(self, url: str, at: int) -> int:
        """Streams the chunk at `at`; returns the offset the server confirmed."""
        end = min(at + self.chunk_size, self.size)
        r = http.upload(url, self._pieces(at, end), total=end - at, method="PATCH",
                        headers={"tus-resumable": TUS_VERSION, "upload-offset": str(at),
                                 "content-type": "application/offset+octet-stream"})
        if r.status != 204:
            raise _protocol(f"tus PATCH at offset {at} answered {r.status}, expected 204")
        confirmed = _number(r, "upload-offset")
        if not at < confirmed <= self.size:
            raise _protocol(f"tus PATCH at offset {at} answered Upload-Offset {confirmed} "
                            f"(expected more than {at}, at most {self.size})")
        return confirmed

    def resume(self, url: str) -> Outcome:
        """Sends the data to the upload at `url` from the offset the server
        reports (`HEAD`), one PATCH per chunk, resuming a PATCH that failed for
        a transport reason from the offset the server then reports. Returns
        the `Outcome`; raises `NetError` when the upload fails ("protocol"
        when the server reports an offset past the data)."""
        self._asked = None
        at = _within_the_data(offset(url), self.size)
        resumes = 0
        while at < self.size:
            try:
                at = self._patch(url, at)
            except NetError as e:
                if e.kind in _NOT_RESUMED or resumes >= self.max_resumes:
                    raise
                resumes += 1
                at = _within_the_data(offset(url), self.size)
            if self.on_progress is not None:
                asked = self.on_progress(at, self.size)
                if asked not in (CONTINUE, PAUSE, CANCEL):
                    raise ValueError(f"tus on_progress returned {asked!r}; return "
                                     "tus.CONTINUE (or None), tus.PAUSE or tus.CANCEL")
                if asked is not None:
                    self._asked = asked
            if self._asked == CANCEL:
                terminate(url)
                return Outcome("cancelled", url, at, resumes)
            if self._asked == PAUSE and at < self.size:
                return Outcome("paused", url, at, resumes)
        return Outcome("done", url, at, resumes)
