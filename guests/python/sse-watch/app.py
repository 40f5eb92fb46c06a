"""sse-watch URL [COUNT [TYPE...]]: prints the events of a Server-Sent Events
stream through sandnet as `TYPE ID DATA` lines (ID `-` when none; newlines in
DATA written `\\n`). Same contract as guests/rust/sse-watch: stops after COUNT
events (0 or absent: until the stream ends), delivers only the TYPEs given.
Exits 1 on a `net-error` (stderr `sse-watch: <error>`), 2 on bad usage.

Optional environment: SSE_WATCH_MAX_RECONNECTS, SSE_WATCH_NO_RECONNECT=1,
SSE_WATCH_MAX_REDIRECTS.
"""

import os
import sys

import sandnet
from sandnet import sse
from wit_world import exports


def main(argv, environ) -> int:
    try:
        url = argv[0]
        count = int(argv[1]) if len(argv) > 1 else 0
        types = argv[2:]
        max_reconnects = int(environ["SSE_WATCH_MAX_RECONNECTS"]) if environ.get("SSE_WATCH_MAX_RECONNECTS") else None
        max_redirects = int(environ["SSE_WATCH_MAX_REDIRECTS"]) if environ.get("SSE_WATCH_MAX_REDIRECTS") else None
    except (IndexError, ValueError):
        print("sse-watch: usage: sse-watch URL [COUNT [TYPE...]]", file=sys.stderr)
        return 2
    reconnect = False if environ.get("SSE_WATCH_NO_RECONNECT") == "1" else None
    try:
        stream = sse.open(url, event_types=types, reconnect=reconnect,
                          max_reconnects=max_reconnects, max_redirects=max_redirects)
        seen = 0
        while count == 0 or seen < count:
            ev = stream.next()
            data = ev.data.replace("\n", "\\n")
            print(f"{ev.event_type} {ev.id or '-'} {data}", flush=True)
            seen += 1
    except sandnet.NetError as e:
        print(f"sse-watch: {e}", file=sys.stderr)
        return 1
    return 0


class Run(exports.Run):
    """The `wasi:cli/run` export."""

    def run(self) -> None:
        status = main(sys.argv[1:], os.environ)
        if status != 0:
            sandnet.exit(status)
        sys.stdout.flush()
        sys.stderr.flush()
