"""discovery NAME udp://GROUP:PORT [INTERFACE]: LAN service discovery over
multicast, as a plugin would do it.

Binds `udp-bind://0.0.0.0:PORT` (shared with other discovery guests on the
same machine), joins GROUP on the interface with address INTERFACE (e.g.
127.0.0.1; default: the kernel's choice), announces `sandnet-discovery NAME`
to the group every 100 ms and prints `found OTHER at IP:PORT` for each other
service it hears. Exits 0 once it found DISCOVERY_WANT services (default 1),
announcing once more so late joiners hear it; 1 on a `net-error` or after
DISCOVERY_TIMEOUT_MS (default 10000) without finding them; 2 on bad usage.
Same contract as guests/rust/discovery.
"""

import os
import sys
import time
from typing import List, Optional

import sandnet
from sandnet import udp

USAGE = "usage: discovery NAME udp://GROUP:PORT [INTERFACE]"
PREFIX = "sandnet-discovery "
INTERVAL = 0.1


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else default


def discover(name: str, target: str, group: str, port: str,
             interface: Optional[str], want: int, timeout: float) -> bool:
    announcement = (PREFIX + name).encode("utf-8")
    with udp.bind(f"udp-bind://0.0.0.0:{port}") as sock:
        sock.join_multicast(group, interface)
        started = time.monotonic()
        found: List[str] = []
        while len(found) < want:
            if time.monotonic() - started > timeout:
                return False
            sock.send_to(target, announcement)
            round_start = time.monotonic()
            while (left := INTERVAL - (time.monotonic() - round_start)) > 0:
                try:
                    d = sock.receive(max(1, int(left * 1000)))
                except sandnet.NetError as e:
                    if e.kind == "timeout":
                        break
                    raise
                text = d.data.decode("utf-8", errors="replace")
                if text.startswith(PREFIX):
                    other = text[len(PREFIX):]
                    if other != name and other not in found:
                        print(f"found {other} at {d.sender}", flush=True)
                        found.append(other)
        sock.send_to(target, announcement)
    return True


def main(argv: List[str]) -> int:
    if len(argv) not in (2, 3) or not argv[1].startswith("udp://") or ":" not in argv[1][6:]:
        raise sandnet.UsageError(USAGE)
    name, target = argv[0], argv[1]
    group, port = target[len("udp://"):].rsplit(":", 1)
    interface = argv[2] if len(argv) == 3 else None
    want = env_int("DISCOVERY_WANT", 1)
    timeout_ms = env_int("DISCOVERY_TIMEOUT_MS", 10000)
    if not discover(name, target, group, port, interface, want, timeout_ms / 1000):
        print(f"discovery: no other service heard within {timeout_ms} ms", file=sys.stderr)
        return 1
    return 0


Run = sandnet.main("discovery", main)
