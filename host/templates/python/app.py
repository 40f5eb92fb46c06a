"""{{name}} URL: GET one URL through sandnet and print the status and body.

Build: ./build.sh     Run: sandnet run {{name}}.wasm --policy policy.toml -- URL
"""

import sys

import sandnet


def main(argv):
    """Runs once per `sandnet run`; a `NetError` (a denial names the policy
    line to add) is printed as `{{name}}: ...` and ends the run with status 1."""
    if len(argv) != 1:
        raise sandnet.UsageError("usage: {{name}} URL")
    response = sandnet.fetch(argv[0])
    print(response.status)
    print(response.text())
    sys.stdout.flush()


Run = sandnet.main("{{name}}", main)
