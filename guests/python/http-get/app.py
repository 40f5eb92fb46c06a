"""http-get URL [METHOD [BODY]]: one HTTP request through sandnet.

Prints the status code on the first line of stdout, then the response body
verbatim. Exits 0 on any HTTP response (4xx and 5xx included) and 1 on a
`net-error`, printed to stderr as `http-get: <error>`: for a denial, the reason
and, on a second line, the policy line that would allow the URL. Exits 2 on
bad usage.

Optional environment (the policy can pass it):
    HTTP_GET_MAX_REDIRECTS  redirects to follow (default 0)
    HTTP_GET_TIMEOUT_MS     total timeout in milliseconds

Built by scripts/build-guests.sh with componentize-py, world `script`, into
target/guests/python-http-get.wasm.
"""

import os
import sys
from collections.abc import Mapping
from typing import List, Optional

import sandnet

USAGE = "usage: http-get URL [METHOD [BODY]]"


def env_int(environ: Mapping[str, str], name: str) -> Optional[int]:
    """The value of `name` as a u32, None when unset or empty."""
    value = environ.get(name, "")
    if value == "":
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > 0xFFFF_FFFF:
        raise sandnet.UsageError(f"{name}={value!r} is not a whole number from 0 to 4294967295")
    return int(value)


def main(argv: List[str]) -> int:
    """Runs the request; returns the exit status."""
    if not 1 <= len(argv) <= 3:
        raise sandnet.UsageError(USAGE)
    url = argv[0]
    method = argv[1] if len(argv) > 1 else "GET"
    body = argv[2].encode("utf-8") if len(argv) > 2 else None
    max_redirects = env_int(os.environ, "HTTP_GET_MAX_REDIRECTS")
    timeout_ms = env_int(os.environ, "HTTP_GET_TIMEOUT_MS")
    response = sandnet.fetch(url, method, body, max_redirects=max_redirects,
                             timeout_ms=timeout_ms)
    out = sys.stdout.buffer
    out.write(f"{response.status}\n".encode("ascii"))
    out.write(response.body)
    out.flush()
    return 0


Run = sandnet.main("http-get", main)
