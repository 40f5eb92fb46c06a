"""The run itself: `main`, which makes the `wasi:cli/run` export of an app
from a plain `main(argv)` function, `UsageError` for bad arguments, and
`exit`, which ends the run with an exact status (componentize-py does not
offer that).

    import sandnet

    def main(argv):
        if len(argv) != 1:
            raise sandnet.UsageError("usage: my-guest URL")
        print(sandnet.fetch(argv[0]).status)

    Run = sandnet.main("my-guest", main)
"""

import sys
import traceback
from typing import Callable, List, Optional

from wit_world import exports as _exports
from wit_world.imports import exit as _exit

from .error import NetError

__all__ = ["UsageError", "exit", "main"]

EXIT_NET_ERROR = 1
"""The status of a run that ended on a `NetError`."""

EXIT_USAGE = 2
"""The status of a run that ended on a `UsageError`."""

EXIT_CRASH = 1
"""The status of a run that ended on any other uncaught exception (its
traceback is printed, without the runtime's own panic text after it)."""


class UsageError(Exception):
    """Bad arguments or environment; the message says which (often the usage
    line). `main` prints it as `NAME: message` and ends the run with status 2."""


def exit(code: int) -> None:
    """Flushes stdout and stderr, then ends the run with status `code` (0-255).

    Calls `wasi:cli/exit.exit-with-code` directly, so the host sees the exact
    code (`sys.exit(code)` under componentize-py 0.25.1 reports any nonzero
    code as 1).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    _exit.exit_with_code(code)


def system_exit_status(e: SystemExit) -> int:
    """The status `sys.exit(code)` asked for: the int itself, 0 for None, and
    1 for anything else (printed to stderr first, as CPython does)."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def status_of(name: str, fn: Callable[[List[str]], Optional[int]], argv: List[str]) -> int:
    """`fn(argv)` as an exit status: what it returns (None is 0); 1 on a
    `NetError` and 2 on a `UsageError`, each printed to stderr as
    `NAME: error` (a denial with its "hint: ..." line)."""
    try:
        status = fn(argv)
    except UsageError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NetError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return EXIT_NET_ERROR
    except SystemExit as e:
        return system_exit_status(e)
    except BaseException:  # noqa: BLE001 - the guest's own crash, as Python prints it
        traceback.print_exc()
        return EXIT_CRASH
    return 0 if status is None else status


def main(name: str, fn: Callable[[List[str]], Optional[int]]) -> type:
    """The `wasi:cli/run` export running `fn(argv)` (argv without the program
    name) for the guest called `name`; bind it in the app module as
    `Run = sandnet.main(NAME, main)`, the class componentize-py looks for.

    `fn` returns the exit status (None is 0) or raises `NetError` (status 1)
    or `UsageError` (status 2), printed to stderr as `NAME: error`. Any other
    exception prints its traceback and ends the run with status 1.
    """

    class Run(_exports.Run):
        """The `wasi:cli/run` export: componentize-py calls `run()` once per run."""

        def run(self) -> None:
            status = status_of(name, fn, sys.argv[1:])
            if status != 0:
                exit(status)
            sys.stdout.flush()
            sys.stderr.flush()

    return Run
