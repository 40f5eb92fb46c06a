"""sse-watch URL [COUNT [TYPE...]]: prints the events of a Server-Sent Events
stream through sandnet as `TYPE ID DATA` lines (ID `-` when none; newlines in
DATA written `\\n`). Same contract as guests/rust/sse-watch: stops after COUNT
events (0 or absent: until the stream ends), delivers only the TYPEs given.
Exits 1 on a `net-error` (stderr `sse-watch: <error>`), 2 on bad usage.

Optional environment: SSE_WATCH_MAX_RECONNECTS, SSE_WATCH_NO_RECONNECT=1,
SSE_WATCH_MAX_REDIRECTS.
"""

import os

import sandnet
from sandnet import sse


def main(argv) -> int:
    environ = os.environ
    try:
        url = argv[0]
        count = int(argv[1]) if len(argv) > 1 else 0
        types = argv[2:]
        max_reconnects = int(environ["SSE_WATCH_MAX_RECONNECTS"]) if environ.get("SSE_WATCH_MAX_RECONNECTS") else None
        max_redirects = int(environ["SSE_WATCH_MAX_REDIRECTS"]) if environ.get("SSE_WATCH_MAX_REDIRECTS") else None
    except (IndexError, ValueError):
        raise sandnet.UsageError("usage: sse-watch URL [COUNT [TYPE...]]") from None
    reconnect = False if environ.get("SSE_WATCH_NO_RECONNECT") == "1" else None
    stream = sse.open(url, event_types=types, reconnect=reconnect,
                      max_reconnects=max_reconnects, max_redirects=max_redirects)
    seen = 0
    while count == 0 or seen < count:
        ev = stream.next()
        data = ev.data.replace("\n", "\\n")
        print(f"{ev.event_type} {ev.id or '-'} {data}", flush=True)
        seen += 1
    return 0


Run = sandnet.main("sse-watch", main)
