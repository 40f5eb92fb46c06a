"""{{name}} URL: GET one URL through sandnet and print the status and body.

Build: ./build.sh     Run: sandnet run {{name}}.wasm --policy policy.toml -- URL

A plain script: its top-level code runs each time the guest runs. The
`sandnet` package has `requests` and `websockets` (the shapes of the packages
of those names), `sse`, `tcp`, `udp`, `bus`, and `aio` for asyncio.
"""

import sys

from sandnet import requests

if len(sys.argv) != 2:
    sys.exit("usage: {{name}} URL")

try:
    response = requests.get(sys.argv[1], timeout=10)
except requests.exceptions.PolicyDenied as e:
    # The message names the policy line that would allow the URL.
    sys.exit(f"{{name}}: {e}")
print(response.status_code)
print(response.text)
