"""bus-sub PATTERN [COUNT]

Subscribes to the bus pattern PATTERN, prints `subscribed PATTERN`, then
`TOPIC PAYLOAD` per message (flushed), and exits after COUNT messages
(default: runs until stopped). A refused subscription prints the denial and
the policy line to add and exits 1; bad usage exits 2. Same contract as
guests/rust/bus-sub.
"""

from typing import List

import sandnet
from sandnet import bus

USAGE = "usage: bus-sub PATTERN [COUNT]"


def main(argv: List[str]) -> int:
    if len(argv) not in (1, 2) or (len(argv) == 2 and not argv[1].isdigit()):
        raise sandnet.UsageError(USAGE)
    count = int(argv[1]) if len(argv) == 2 else None
    with bus.subscribe(argv[0]) as subscription:
        print(f"subscribed {argv[0]}", flush=True)
        seen = 0
        while count is None or seen < count:
            message = subscription.next()
            text = message.payload.decode("utf-8", errors="replace")
            print(f"{message.topic} {text}", flush=True)
            seen += 1
    return 0


Run = sandnet.main("bus-sub", main)
