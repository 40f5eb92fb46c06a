"""bus-pub TOPIC MESSAGE...

Publishes each MESSAGE on the bus topic TOPIC; a MESSAGE written `@OTHER`
switches the topic for the messages after it. Prints `published N` at the
end. A refused publish prints the denial and the policy line to add and
exits 1; bad usage exits 2. Same contract as guests/rust/bus-pub.
"""

from typing import List

import sandnet
from sandnet import bus

USAGE = "usage: bus-pub TOPIC MESSAGE... (a MESSAGE @TOPIC switches the topic)"


def main(argv: List[str]) -> int:
    if len(argv) < 2:
        raise sandnet.UsageError(USAGE)
    topic = argv[0]
    published = 0
    for message in argv[1:]:
        if message.startswith("@"):
            topic = message[1:]
            continue
        bus.publish(topic, message)
        published += 1
    print(f"published {published}", flush=True)
    return 0


Run = sandnet.main("bus-pub", main)
