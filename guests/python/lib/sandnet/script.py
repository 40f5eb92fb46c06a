"""The entry module of every Python guest (`componentize-py ... sandnet.script`):
`app.py` may be a plain script, whose top-level code then runs each time the
guest runs, not when componentize-py pre-initialises the component at build
time. An `app.py` that defines its own `Run` (e.g. `Run = sandnet.main(...)`)
is imported as before and its `Run` is used.

For a plain script, the modules it imports are imported at build time (so
they are in the component), the script is compiled then, and at run time it
executes as `__main__`: `sys.argv` holds the arguments, `sys.exit(n)` ends the
run with status n, an uncaught `NetError` prints as `NAME: error` (status 1)
and any other uncaught exception prints its traceback (status 1), with no
host or runtime noise after it.
"""

import ast
import builtins
import importlib
import importlib.util
import os
import sys
import traceback
from types import CodeType
from typing import Optional

from wit_world import exports as _exports

from .error import NetError
from .process import EXIT_NET_ERROR, exit, system_exit_status

__all__ = ["Run"]

APP = "app"
"""The module name of the guest's script (app.py)."""


def _defines_run(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Run":
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "Run" for t in targets):
                return True
    return False


def _preimport(tree: ast.Module) -> None:
    """Imports (at build time) every absolute module the script names, so it
    is in the component; a name that is not a module is skipped."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names
                         if alias.name != "*")
    for name in names:
        try:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        except (ImportError, ValueError):
            continue


def _guest_name() -> str:
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else APP
    return base[:-5] if base.endswith(".wasm") else base


def _run_script(code: CodeType, filename: str) -> int:
    """Executes the script as `__main__`; its exit status."""
    scope = {"__name__": "__main__", "__file__": filename, "__builtins__": builtins}
    try:
        exec(code, scope)
    except SystemExit as e:
        return system_exit_status(e)
    except NetError as e:
        print(f"{_guest_name()}: {e}", file=sys.stderr)
        return EXIT_NET_ERROR
    except BaseException:  # noqa: BLE001 - report anything the script raised
        traceback.print_exc()
        return 1
    return 0


def _script_run(code: CodeType, filename: str) -> type:
    class Run(_exports.Run):
        """`wasi:cli/run` executing the script once per run."""

        def run(self) -> None:
            status = _run_script(code, filename)
            sys.stdout.flush()
            sys.stderr.flush()
            if status != 0:
                exit(status & 0xFF or 1)

    return Run


def _load(name: str = APP) -> type:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no {name}.py on the module path: a guest needs an {name}.py")
    source: Optional[str] = spec.loader.get_source(name)  # type: ignore[attr-defined]
    filename = f"{name}.py"
    tree = ast.parse(source or "", filename)
    if _defines_run(tree):
        return importlib.import_module(name).Run
    _preimport(tree)
    return _script_run(compile(tree, filename, "exec"), filename)


Run = _load()
