"""mqtt-sub URL PATTERN [COUNT]

Connects to the MQTT broker URL, subscribes to the filter PATTERN, prints
`subscribed PATTERN`, then `TOPIC PAYLOAD` per message (flushed), and exits
after COUNT messages (default: runs until stopped). A refused subscription
prints the denial and the policy line to add and exits 1; bad usage exits 2.
Same contract as guests/rust/mqtt-sub.
"""

from typing import List

import sandnet
from sandnet import mqtt

USAGE = "usage: mqtt-sub URL PATTERN [COUNT]"


def main(argv: List[str]) -> int:
    if len(argv) not in (2, 3) or (len(argv) == 3 and not argv[2].isdigit()):
        raise sandnet.UsageError(USAGE)
    count = int(argv[2]) if len(argv) == 3 else None
    with mqtt.connect(argv[0]) as client:
        client.subscribe_to(argv[1])
        print(f"subscribed {argv[1]}", flush=True)
        seen = 0
        while count is None or seen < count:
            message = client.next()
            text = message.payload.decode("utf-8", errors="replace")
            print(f"{message.topic} {text}", flush=True)
            seen += 1
    return 0


Run = sandnet.main("mqtt-sub", main)
