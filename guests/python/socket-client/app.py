"""socket-client HOST PORT [MESSAGE...]: a line client over Python's standard
`socket` module (wasi:sockets underneath), with no sandnet:net call (the
sandnet library only makes its `wasi:cli/run` export).

Connects to HOST:PORT, sends each MESSAGE followed by a newline, closes its
write half, then prints every line the server sends back until it closes.
Exits 1 with `socket-client: <error>` when the host refuses the connection:
standard sockets only see an error code (e.g. access denied); sandnet's stderr
and audit log carry the reason and the policy line that would allow it.
Exits 2 on bad usage.
"""

import encodings.idna  # noqa: F401  (bundled for name lookups; see toolchains notes)
import socket
import sys

import sandnet

USAGE = "usage: socket-client HOST PORT [MESSAGE...]"


def main(argv):
    """Runs the exchange; returns the exit status."""
    if len(argv) < 2 or not argv[1].isdigit():
        raise sandnet.UsageError(USAGE)
    host, port, messages = argv[0], int(argv[1]), argv[2:]
    try:
        with socket.create_connection((host, port), timeout=10) as conn:
            for message in messages:
                conn.sendall(message.encode("utf-8") + b"\n")
            conn.shutdown(socket.SHUT_WR)
            received = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                received += chunk
    except OSError as e:
        print(f"socket-client: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(received.decode("utf-8", errors="replace"))
    sys.stdout.flush()
    return 0


Run = sandnet.main("socket-client", main)
