"""Process control componentize-py does not offer: ending the run with an
exact status."""

import sys

from wit_world.imports import exit as _exit

__all__ = ["exit"]


def exit(code: int) -> None:
    """Flushes stdout and stderr, then ends the run with status `code` (0-255).

    Calls `wasi:cli/exit.exit-with-code` directly, so the host sees the exact
    code (`sys.exit(code)` under componentize-py 0.25.1 reports any nonzero
    code as 1).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    _exit.exit_with_code(code)
