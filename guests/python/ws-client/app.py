"""ws-client URL [MESSAGE...]: a WebSocket client through sandnet.

Same contract as guests/rust/ws-client: sends each MESSAGE (`bin:TEXT` as
binary, `big:N` as N bytes of `x`) and prints the reply: text as is, binary as
`binary N: TEXT`, the peer's close as `close CODE REASON` (and stops). Then
closes with 1000 `bye` and prints the answering close. Exits 1 on a
`net-error` (stderr `ws-client: <error>`), 2 on bad usage.

Optional environment: WS_CLIENT_HEARTBEAT_MS, WS_CLIENT_RECONNECT
(ATTEMPTS,INITIAL_MS,MAX_MS), WS_CLIENT_SUBPROTOCOL, WS_CLIENT_HEADER
(NAME: VALUE), WS_CLIENT_SSE with WS_CLIENT_SSE_EVENTS (wait on the
WebSocket and that event stream together, printing `ws: ...`/`sse: ...`).
"""

import os

import sandnet
from sandnet import sse, websocket


def show(msg) -> str:
    if isinstance(msg, websocket.Text):
        return msg.text
    if isinstance(msg, websocket.Binary):
        return f"binary {len(msg.data)}: {msg.data.decode('utf-8', errors='replace')}"
    return f"close {msg.code} {msg.reason}"


def send(ws, message: str) -> None:
    if message.startswith("bin:"):
        ws.send_binary(message[4:].encode("utf-8"))
    elif message.startswith("big:"):
        ws.send_text("x" * int(message[4:]))
    else:
        ws.send_text(message)


def both(ws, sse_url: str, events: int, messages) -> None:
    stream = sse.open(sse_url)
    for m in messages:
        send(ws, m)
    replies = seen = 0
    while replies < len(messages) or seen < events:
        waiting = []
        if replies < len(messages):
            waiting.append((0, ws.subscribe()))
        if seen < events:
            waiting.append((1, stream.subscribe()))
        for i in websocket.wait_any([p for _, p in waiting]):
            if waiting[i][0] == 0:
                print(f"ws: {show(ws.receive())}")
                replies += 1
            else:
                ev = stream.next()
                data = ev.data.replace("\n", "\\n")
                print(f"sse: {ev.event_type} {ev.id or '-'} {data}")
                seen += 1
    ws.close(1000, "bye")


def main(argv) -> int:
    environ = os.environ
    if not argv:
        raise sandnet.UsageError("usage: ws-client URL [MESSAGE...]")
    url, messages = argv[0], argv[1:]
    kwargs = {}
    try:
        if environ.get("WS_CLIENT_HEARTBEAT_MS"):
            kwargs["heartbeat_ms"] = int(environ["WS_CLIENT_HEARTBEAT_MS"])
        if environ.get("WS_CLIENT_RECONNECT"):
            a, i, m = (int(x) for x in environ["WS_CLIENT_RECONNECT"].split(","))
            kwargs["reconnect"] = (a, i, m)
        events = int(environ.get("WS_CLIENT_SSE_EVENTS") or "0")
    except ValueError as e:
        raise sandnet.UsageError(e) from None
    protocols = [environ["WS_CLIENT_SUBPROTOCOL"]] if environ.get("WS_CLIENT_SUBPROTOCOL") else []
    headers = []
    if environ.get("WS_CLIENT_HEADER"):
        name, _, value = environ["WS_CLIENT_HEADER"].partition(":")
        headers.append((name.strip(), value.strip()))
    ws = websocket.connect(url, headers, protocols, **kwargs)
    if ws.subprotocol():
        print(f"subprotocol {ws.subprotocol()}")
    if environ.get("WS_CLIENT_SSE"):
        both(ws, environ["WS_CLIENT_SSE"], events, messages)
        return 0
    for m in messages:
        send(ws, m)
        reply = ws.receive()
        print(show(reply))
        if isinstance(reply, websocket.Close):
            return 0
    ws.close(1000, "bye")
    while True:
        reply = ws.receive()
        print(show(reply))
        if isinstance(reply, websocket.Close):
            return 0


Run = sandnet.main("ws-client", main)
