"""tcp-client URL [LINE...]: one TCP (or TLS) conversation through sandnet.

Connects to URL (`tcp://host:port` or `tls://host:port`), writes each LINE
followed by a newline, closes its write half, then prints every reply line
until the server closes the connection (or TCP_CLIENT_LINES lines came).
Exits 0 on success, 1 on a `net-error` (printed to stderr as
`tcp-client: <error>`), 2 on bad usage. Same contract as guests/rust/tcp-client.

Optional environment:
    TCP_CLIENT_LINES       stop after this many reply lines
    TCP_CLIENT_MAX_LINE    longest reply line in bytes (default 65536)
    TCP_CLIENT_TIMEOUT_MS  connect and read timeout in milliseconds
"""

import os
import sys
from typing import List, Optional

import sandnet
from sandnet import tcp

USAGE = "usage: tcp-client tcp://HOST:PORT|tls://HOST:PORT [LINE...]"


def env_int(name: str) -> Optional[int]:
    value = os.environ.get(name, "")
    if value == "":
        return None
    if not (value.isascii() and value.isdigit()):
        raise sandnet.UsageError(f"{name}={value!r} is not a whole number")
    return int(value)


def main(argv: List[str]) -> int:
    if not argv:
        raise sandnet.UsageError(USAGE)
    want = env_int("TCP_CLIENT_LINES")
    max_line = env_int("TCP_CLIENT_MAX_LINE") or 65536
    timeout = env_int("TCP_CLIENT_TIMEOUT_MS")
    out = sys.stdout.buffer
    with tcp.connect(argv[0], timeout, timeout) as stream:
        request = b"".join(line.encode("utf-8") + b"\n" for line in argv[1:])
        if request:
            stream.write(request)
        if want is None:
            stream.shutdown()
        seen = 0
        while want is None or seen < want:
            line = stream.read_line(max_line)
            if not line:
                break
            seen += 1
            out.write(line if line.endswith(b"\n") else line + b"\n")
            out.flush()
    return 0


Run = sandnet.main("tcp-client", main)
