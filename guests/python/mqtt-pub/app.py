"""mqtt-pub URL TOPIC MESSAGE...

Connects to the MQTT broker URL and publishes each MESSAGE on TOPIC, then
prints `published N`. Environment: MQTT_QOS (0 or 1), MQTT_RETAIN=1. A
refused publish prints the denial and the policy line to add and exits 1;
bad usage exits 2. Same contract as guests/rust/mqtt-pub.
"""

import os
from typing import List

import sandnet
from sandnet import mqtt

USAGE = "usage: mqtt-pub URL TOPIC MESSAGE..."


def main(argv: List[str]) -> int:
    if len(argv) < 3:
        raise sandnet.UsageError(USAGE)
    qos = os.environ.get("MQTT_QOS", "0")
    if qos not in ("0", "1"):
        raise sandnet.UsageError(f"MQTT_QOS must be 0 or 1, not {qos!r}")
    retain = os.environ.get("MQTT_RETAIN") == "1"
    url, topic, messages = argv[0], argv[1], argv[2:]
    with mqtt.connect(url) as client:
        for message in messages:
            client.publish(topic, message, int(qos), retain)
    print(f"published {len(messages)}", flush=True)
    return 0


Run = sandnet.main("mqtt-pub", main)
