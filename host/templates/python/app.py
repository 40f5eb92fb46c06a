"""{{name}} URL: GET one URL through sandnet and print the status and body.

Build: ./build.sh     Run: sandnet run {{name}}.wasm --policy policy.toml -- URL
"""

import sys

import sandnet
from wit_world import exports


class Run(exports.Run):
    """The `wasi:cli/run` export: called once per run."""

    def run(self) -> None:
        if len(sys.argv) != 2:
            print("usage: {{name}} URL", file=sys.stderr)
            sandnet.exit(2)
        try:
            response = sandnet.fetch(sys.argv[1])
        except sandnet.NetError as e:
            print(f"{{name}}: {e}", file=sys.stderr)  # reason + "hint: ..." line
            sandnet.exit(1)
        print(response.status)
        print(response.text())
        sys.stdout.flush()
