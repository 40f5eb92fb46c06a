"""conformance CASE TARGET: one case of the cross-language guest conformance
suite (tests/it/conformance.rs), written the way a Python user would: with
`sandnet.requests`, `sandnet.websockets`, `sandnet.sse`, `sandnet.tcp`,
`sandnet.udp` and `sandnet.tus`. Every language's conformance guest prints
the same lines for the same case; the cases are listed in the test module.

A plain script (no `Run`): its top-level code runs each time the guest runs.
"""

import sys

from sandnet import http, sse, tcp, udp, websockets
from sandnet import requests


def tus_start_paused(create_url):
    """The 1 MB the tus cases upload (byte i is i % 251) and the outcome of
    an upload of it to `create_url` paused after its first 256 KiB chunk
    (printed as `paused OFFSET`)."""
    from sandnet import tus

    data = (bytes(range(251)) * (1_000_000 // 251 + 1))[:1_000_000]
    paused = tus.Upload(data, chunk_size=256 * 1024,
                        on_progress=lambda offset, total: tus.PAUSE).start(create_url)
    print("paused", paused.offset)
    return data, paused


if len(sys.argv) != 3:
    sys.exit("usage: conformance CASE TARGET")
case, target = sys.argv[1], sys.argv[2]

if case == "get-json":
    r = requests.get(target, headers={"accept": "application/json"})
    body = r.json()
    print(r.status_code, body["hello"], body["n"])
elif case == "post-json":
    r = requests.post(target, json={"n": 41})
    body = r.json()
    print(r.status_code, body["n"], body["content_type"])
elif case == "headers":
    r = requests.get(target, headers={"X-Conformance": "yes"})
    print(r.status_code, r.headers["X-Reflected"])
elif case == "denied":
    try:
        requests.get(target)
        print("allowed")
    except requests.exceptions.PolicyDenied as e:
        print("denied", e.suggestion)
elif case == "timeout":
    try:
        requests.get(target, timeout=0.3)
        print("answered")
    except requests.exceptions.Timeout:
        print("timeout")
elif case == "download":
    with requests.get(target, stream=True) as r:
        size = sum(len(chunk) for chunk in r.iter_content(chunk_size=65536))
    print(r.status_code, size)
elif case == "upload":
    total = 1_000_000
    seen = []
    chunks = (b"u" * min(65536, total - start) for start in range(0, total, 65536))
    r = http.upload(target, chunks, total=total,
                    progress=lambda sent, of: seen.append(sent))
    # Progress counts bytes the connection took; it trails the writes.
    steady = bool(seen) and seen == sorted(seen) and seen[-1] <= total
    print("progress", "ok" if steady else f"bad {seen}")
    print(r.status, r.body.decode())
elif case == "ws-echo":
    with websockets.connect(target) as ws:
        ws.send("ping")
        print(ws.recv(timeout=5))
        ws.send("close-me")
        try:
            ws.recv(timeout=5)
        except websockets.ConnectionClosed as e:
            print("close", e.code, e.reason)
elif case == "ws-close-first":
    ws = websockets.connect(target)
    try:
        ws.recv(timeout=5)
    except websockets.ConnectionClosed as e:
        print("close", e.code, e.reason)
elif case == "ws-send-after-close":
    import time
    ws = websockets.connect(target)
    time.sleep(0.3)  # the peer's close arrives before our first send
    try:
        ws.send("too late")
        print("sent")
    except websockets.ConnectionClosed as e:
        print("close", e.code, e.reason)
elif case == "sse":
    with sse.open(target) as stream:
        for event in stream:
            print(event.id, event.data)
elif case == "tcp-echo":
    with tcp.connect(target) as conn:
        conn.write(b"hello\n")
        print(conn.read_line().decode().rstrip("\n"))
elif case == "udp-echo":
    with udp.ephemeral() as sock:
        sock.send_to(target, b"ping")
        print(sock.receive(timeout_ms=5000).data.decode())
elif case == "concurrent":
    import asyncio

    from sandnet import aio

    async def both():
        return await asyncio.gather(aio.get(target, timeout=5), aio.get(target, timeout=5))

    first, second = aio.run(both())
    print(first.status_code, second.status_code)
elif case == "multipart":
    def pattern(size):
        """`size` bytes where byte i is i % 251."""
        return (bytes(range(251)) * (size // 251 + 1))[:size]

    def generated(size, block=pattern(251 * 256)):
        """The same bytes as pattern(size), made while they are sent."""
        for start in range(0, size, len(block)):
            yield block[:min(len(block), size - start)]

    form = (http.Multipart()
            .field("note", "two files")
            .file("first", pattern(300_000), filename="a.bin",
                  content_type="application/octet-stream")
            .file("second", generated(150_000), filename="b.txt", content_type="text/plain",
                  size=150_000))
    reports = []
    r = form.send(target, progress=lambda sent, total: reports.append((sent, total)))
    sent = [s for s, _ in reports]
    ok = (len(reports) >= 2 and sent == sorted(sent)
          and all(total == form.total and s <= total for s, total in reports))
    print("progress", "ok" if ok else f"bad {reports}")
    print(r.status)
    print(r.text(), end="")
elif case == "requests-files":
    # Not a conformance case: tests/it/http/multipart.rs checks that
    # `requests` streams files= (a bytes file and a file object) with data=.
    import io

    pattern = (bytes(range(251)) * 1200)[:300_000]
    r = requests.post(target, data={"note": "two files"},
                      files={"first": ("a.bin", pattern, "application/octet-stream"),
                             "second": ("b.txt", io.BytesIO(pattern[:150_000]), "text/plain")})
    print(r.status_code)
    print(r.text, end="")
elif case == "aio-files":
    # Not a conformance case: tests/it/http/multipart.rs checks that
    # `sandnet.aio` streams files= too.
    from sandnet import aio

    pattern = (bytes(range(251)) * 1200)[:300_000]
    r = aio.run(aio.post(target, data={"note": "two files"},
                         files={"first": ("a.bin", pattern, "application/octet-stream"),
                                "second": ("b.txt", pattern[:150_000], "text/plain")}))
    print(r.status_code)
    print(r.text, end="")
elif case == "multipart-short":
    # Not a conformance case: tests/it/http/multipart.rs checks that a file
    # shorter than its announced size cancels the upload with a clear error.
    form = http.Multipart().file("second", iter([b"b" * 100_000]), filename="b.txt",
                                 size=150_000)
    try:
        form.send(target)
        print("sent")
    except ValueError as e:
        print("ValueError:", e)
elif case == "raise":
    # Not a conformance case: tests/it/runtime.rs checks how a crash prints.
    raise RuntimeError(target)
elif case == "tus":
    import io

    from sandnet import tus

    data, paused = tus_start_paused(target)
    # A seekable binary file works as well as bytes (read as each PATCH goes).
    done = tus.Upload(io.BytesIO(data), chunk_size=256 * 1024).resume(paused.url)
    print("done", done.url, f"resumes={done.resumes}")
    second = tus.Upload(data, chunk_size=256 * 1024)
    second.on_progress = lambda offset, total: second.cancel()
    print(second.start(target).state)
elif case == "tus-offset-past":
    from sandnet import NetError, tus

    def refusal(step, send):
        """The line for how a step against a lying server ended: the error
        it must fail with, or the state it wrongly reached."""
        try:
            return f"{step} {send().state}"
        except NetError as e:
            return f"{step} {e}"

    data, paused = tus_start_paused(target)
    upload = tus.Upload(data, chunk_size=256 * 1024)
    # The HEAD that starts the resume claims more than the data.
    print(refusal("resume", lambda: upload.resume(paused.url)))
    # The HEAD after the dropped PATCH claims more than the data.
    print(refusal("after a drop", lambda: upload.start(target)))
else:
    sys.exit(f"conformance: unknown case {case!r}")
