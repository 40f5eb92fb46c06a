"""tcp-echo-server tcp-listen://ADDR:PORT [COUNT]: a TCP echo server in a guest.

Binds the listener (the policy must grant it; port 0 picks a free port),
prints `listening on IP:PORT`, then serves every connection at once: the
listener and all open streams are waited on together (`tcp.wait_any`).
Prints `accepted PEER` and `closed PEER`; exits 0 after COUNT connections
have closed (default: serve forever), 1 on a `net-error`, 2 on bad usage.
Same contract as guests/rust/tcp-echo-server.
"""

from typing import List, Optional, Tuple

import sandnet
from sandnet import tcp

USAGE = "usage: tcp-echo-server tcp-listen://ADDR:PORT [COUNT]"


def say(line: str) -> None:
    print(line, flush=True)


def serve(address: str, count: Optional[int]) -> None:
    listener = tcp.listen(address)
    say(f"listening on {listener.local_address()}")
    open_streams: List[Tuple[tcp.Stream, str]] = []
    closed = 0
    while count is None or closed < count:
        pollables = [listener.subscribe()] + [s.subscribe() for s, _ in open_streams]
        ready = tcp.wait_any(pollables)
        finished = []
        for index in ready:
            if index == 0:
                try:
                    stream = listener.accept()
                except sandnet.NetError as e:
                    say(f"accept failed: {e}")
                    continue
                peer = stream.peer_address()
                say(f"accepted {peer}")
                open_streams.append((stream, peer))
                continue
            stream, peer = open_streams[index - 1]
            try:
                data = stream.read(65536)
                if data:
                    stream.write(data)
                else:
                    finished.append(index - 1)
            except sandnet.NetError as e:
                say(f"error from {peer}: {e}")
                finished.append(index - 1)
        for i in sorted(finished, reverse=True):
            stream, peer = open_streams.pop(i)
            stream.close()
            say(f"closed {peer}")
            closed += 1


def main(argv: List[str]) -> int:
    if len(argv) not in (1, 2) or (len(argv) == 2 and not argv[1].isdigit()):
        raise sandnet.UsageError(USAGE)
    serve(argv[0], int(argv[1]) if len(argv) == 2 else None)
    return 0


Run = sandnet.main("tcp-echo-server", main)
