"""ws-echo-server ws-listen://IP:PORT [CLIENTS]: a WebSocket echo server
through sandnet. Same contract as guests/rust/ws-echo-server: prints
`listening ws://IP:PORT`, serves every client at once (wasi:io/poll over the
listener and all connections), echoes text and binary, prints
`client ADDR connected` / `client ADDR closed CODE`, and exits 0 after
CLIENTS clients have closed (else serves forever). Exits 1 when binding is
refused (stderr `ws-echo-server: <error>`), 2 on bad usage.
"""

import sys

import sandnet
from sandnet import websocket


def serve(listener, clients) -> None:
    conns = []
    finished = 0
    while clients is None or finished < clients:
        pollables = [listener.subscribe()] + [c.subscribe() for c, _ in conns]
        ready = websocket.wait_any(pollables)
        del pollables
        gone = []
        for i in ready:
            if i == 0:
                try:
                    conn, peer = listener.accept()
                    print(f"client {peer} connected")
                    conns.append((conn, peer))
                except sandnet.NetError as e:
                    print(f"ws-echo-server: accept: {e}", file=sys.stderr)
                continue
            conn, peer = conns[i - 1]
            try:
                msg = conn.receive()
                if isinstance(msg, websocket.Text):
                    conn.send_text(msg.text)
                elif isinstance(msg, websocket.Binary):
                    conn.send_binary(msg.data)
                else:
                    print(f"client {peer} closed {msg.code}")
                    gone.append(i - 1)
            except sandnet.NetError as e:
                print(f"client {peer} closed: {e}")
                gone.append(i - 1)
        for i in sorted(gone, reverse=True):
            del conns[i]
            finished += 1
        sys.stdout.flush()


def main(argv) -> int:
    if len(argv) not in (1, 2) or (len(argv) == 2 and not argv[1].isdigit()):
        raise sandnet.UsageError("usage: ws-echo-server ws-listen://IP:PORT [CLIENTS]")
    listener = websocket.bind(argv[0])
    print(f"listening ws://{listener.local_address()}", flush=True)
    serve(listener, int(argv[1]) if len(argv) == 2 else None)
    return 0


Run = sandnet.main("ws-echo-server", main)
