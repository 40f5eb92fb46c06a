"""http-get [--retries N] [--max-redirects N] [--decode] URL...
   or http-get URL [METHOD [BODY]]: HTTP requests through sandnet.

One URL and no option: prints the status code on the first line of stdout,
then the response body verbatim. Several URLs or any option: fetches each URL
in order in this one run (so the guest's cache can answer a repeat), prints
`STATUS BYTES` per URL, then the last body verbatim.

Exits 0 when every request got an HTTP response (4xx and 5xx included) and 1
on a `net-error`, printed to stderr as `http-get: <error>`: for a denial, the
reason and, on a second line, the policy line that would allow the URL. Exits
2 on bad usage.

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

USAGE = ("usage: http-get URL [METHOD [BODY]] | "
         "http-get [--retries N] [--max-redirects N] [--decode] URL...")


def whole_number(name: str, value: str) -> int:
    """`value` as a u32, or a usage error naming `name`."""
    if not (value.isascii() and value.isdigit()) or int(value) > 0xFFFF_FFFF:
        raise sandnet.UsageError(f"{name}={value!r} is not a whole number from 0 to 4294967295")
    return int(value)


def env_int(environ: Mapping[str, str], name: str) -> Optional[int]:
    """The value of `name` as a u32, None when unset or empty."""
    value = environ.get(name, "")
    return None if value == "" else whole_number(name, value)


def main(argv: List[str]) -> int:
    """Runs the requests; returns the exit status."""
    options = {
        "max_redirects": env_int(os.environ, "HTTP_GET_MAX_REDIRECTS"),
        "timeout_ms": env_int(os.environ, "HTTP_GET_TIMEOUT_MS"),
    }
    flagged = False
    while argv and argv[0].startswith("--"):
        flag, argv = argv[0], argv[1:]
        flagged = True
        if flag == "--":
            break
        if flag == "--decode":
            options["decode"] = True
        elif flag in ("--retries", "--max-redirects"):
            if not argv:
                raise sandnet.UsageError(f"{flag} needs a number; {USAGE}")
            key = flag[2:].replace("-", "_")
            options[key], argv = whole_number(flag, argv[0]), argv[1:]
        else:
            raise sandnet.UsageError(f"unknown option {flag}; {USAGE}")
    if not argv:
        raise sandnet.UsageError(USAGE)
    # `URL METHOD [BODY]`: the second argument is a method, not a URL.
    if len(argv) in (2, 3) and "://" not in argv[1]:
        body = argv[2].encode("utf-8") if len(argv) > 2 else None
        requests = [(argv[0], argv[1], body)]
    else:
        requests = [(url, "GET", None) for url in argv]
    listed = flagged or len(requests) > 1
    out = sys.stdout.buffer
    last = b""
    for url, method, body in requests:
        response = sandnet.fetch(url, method, body, **options)
        line = f"{response.status} {len(response.body)}" if listed else f"{response.status}"
        out.write(f"{line}\n".encode("ascii"))
        out.flush()
        last = response.body
    out.write(last)
    out.flush()
    return 0


Run = sandnet.main("http-get", main)
