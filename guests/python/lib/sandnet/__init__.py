"""Idiomatic Python API for sandnet guests, over the componentize-py bindings
of the `sandnet:net` WIT package (world `script`).

    import sandnet

    try:
        r = sandnet.fetch("https://api.example.com/v1/status",
                          headers={"accept": "application/json"})
        print(r.status, r.text())
    except sandnet.NetError as e:
        print(e)          # e.g. "denied: ..." plus a "hint: ..." line
        print(e.kind)     # "denied", "dns", "timeout", "limit-exceeded", ...

One module per concept: `http` (`fetch` and `Response` are re-exported here),
`tus` (resumable uploads), `websocket`, `sse`, `tcp`, `udp`, `bus`, `mqtt`, `poll` (`wait_any` over several resources),
`error` (`NetError`, re-exported here) and `process` (`main`, `UsageError`
and `exit`, re-exported here): `from sandnet import websocket, sse, tcp, udp`.

An app module makes its `wasi:cli/run` export from a plain function:
`Run = sandnet.main("my-guest", main)` runs `main(argv)`, prints a `NetError`
or `UsageError` it raises as `my-guest: error` and ends the run with the
status `main` returned (1 on a `NetError`, 2 on a `UsageError`).
To end a run early with a given status use `sandnet.exit(code)`: under
componentize-py 0.25.1 `sys.exit(code)` reports any nonzero code as 1.
(`sys.argv` and `os.environ` do hold the run's arguments and environment.)
"""

from .error import NetError
from .http import Headers, Response, fetch
from .process import UsageError, exit, main

__all__ = ["NetError", "Response", "UsageError", "fetch", "exit", "main"]
