"""udp-echo server udp-bind://ADDR:PORT [COUNT] | udp-echo client udp://HOST:PORT MESSAGE...

The server binds (grant needed; port 0 picks a free port), prints
`listening on IP:PORT`, sends every datagram back to its sender (which the
policy must grant as a destination too) and prints `echoed N bytes to
SENDER`; it exits after COUNT datagrams. The client sends each MESSAGE from
an ephemeral port (no bind grant) and prints each reply. Exits 1 on a
`net-error`, 2 on bad usage. Same contract as guests/rust/udp-echo.

Optional environment: UDP_ECHO_TIMEOUT_MS, the client's wait per reply.
"""

import os
from typing import List, Optional

import sandnet
from sandnet import udp

USAGE = ("usage: udp-echo server udp-bind://ADDR:PORT [COUNT] | "
         "udp-echo client udp://HOST:PORT MESSAGE...")


def server(address: str, count: Optional[int]) -> None:
    with udp.bind(address) as sock:
        print(f"listening on {sock.local_address()}", flush=True)
        echoed = 0
        while count is None or echoed < count:
            sock.wait()
            d = sock.receive()
            sock.send_to(f"udp://{d.sender}", d.data)
            print(f"echoed {len(d.data)} bytes to {d.sender}", flush=True)
            echoed += 1


def client(target: str, messages: List[str]) -> None:
    value = os.environ.get("UDP_ECHO_TIMEOUT_MS", "")
    timeout = int(value) if value.isdigit() else None
    with udp.ephemeral() as sock:
        for message in messages:
            sock.send_to(target, message.encode("utf-8"))
            reply = sock.receive(timeout)
            print(reply.data.decode("utf-8", errors="replace"), flush=True)


def main(argv: List[str]) -> int:
    if len(argv) in (2, 3) and argv[0] == "server":
        if len(argv) == 3 and not argv[2].isdigit():
            raise sandnet.UsageError(USAGE)
        server(argv[1], int(argv[2]) if len(argv) == 3 else None)
    elif len(argv) >= 3 and argv[0] == "client":
        client(argv[1], argv[2:])
    else:
        raise sandnet.UsageError(USAGE)
    return 0


Run = sandnet.main("udp-echo", main)
