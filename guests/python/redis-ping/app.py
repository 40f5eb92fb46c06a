"""redis-ping HOST:PORT [KEY [VALUE]]: RESP to a real redis-server through
sandnet: PING, SET KEY VALUE, GET KEY, one reply per line.

HOST:PORT may also be a full `tcp://` or `tls://` URL. Prints PONG, OK and
the value read back. Exits 0 on success, 1 on a `net-error` or a Redis error
reply (`redis-ping: <error>` on stderr), 2 on bad usage. Same contract as
guests/rust/redis-ping.
"""

import sys
from typing import List

import sandnet
from sandnet import tcp

USAGE = "usage: redis-ping HOST:PORT [KEY [VALUE]]"
MAX_LINE = 64 * 1024
MAX_BULK = 1 << 20


class RedisError(Exception):
    """A Redis error reply or a malformed reply."""


def encode(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode("utf-8")
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def read_reply(stream: tcp.Stream) -> str:
    line = stream.read_until(b"\r\n", MAX_LINE)
    if not line.endswith(b"\r\n"):
        raise RedisError("server closed the connection mid-reply")
    kind, text = line[:1], line[1:-2].decode("utf-8", errors="replace")
    if kind in (b"+", b":"):
        return text
    if kind == b"-":
        raise RedisError(text)
    if kind == b"$":
        n = int(text)
        if n < 0:
            return "(nil)"
        if n > MAX_BULK:
            raise RedisError(f"bulk reply of {n} bytes exceeds {MAX_BULK}")
        return stream.read_exact(n + 2)[:n].decode("utf-8", errors="replace")
    raise RedisError(f"unexpected reply type {kind!r}")


def main(argv: List[str]) -> int:
    if not 1 <= len(argv) <= 3:
        raise sandnet.UsageError(USAGE)
    addr = argv[0]
    key = argv[1] if len(argv) > 1 else "sandnet:ping"
    value = argv[2] if len(argv) > 2 else "hello from sandnet"
    url = addr if "://" in addr else f"tcp://{addr}"
    with tcp.connect(url) as redis:
        for command in (("PING",), ("SET", key, value), ("GET", key)):
            redis.write(encode(*command))
            try:
                print(read_reply(redis), flush=True)
            except RedisError as e:
                print(f"redis-ping: {command[0]} failed: {e}", file=sys.stderr)
                return 1
    return 0


Run = sandnet.main("redis-ping", main)
