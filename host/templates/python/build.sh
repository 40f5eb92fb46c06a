#!/usr/bin/env bash
# Builds {{name}}.wasm from app.py with componentize-py 0.25.1 (world `script`
# of the sandnet:net WIT in wit/). The entry module is sandnet.script: app.py
# may be a plain script, run each time the guest runs.
# componentize-py is installed once per machine into a shared cache
# ($SANDNET_TOOLCHAINS, default ~/.cache/sandnet/toolchains), not per project.
set -euo pipefail
cd "$(dirname "$0")"
toolchains="${SANDNET_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/sandnet/toolchains}"
venv="$toolchains/componentize-py-0.25.1"
if [[ ! -x "$venv/bin/componentize-py" ]]; then
    echo "installing componentize-py 0.25.1 into $venv (once per machine)…" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check componentize-py==0.25.1
fi
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/componentize-py" -d wit -w script -q \
    componentize -p . sandnet.script -o {{name}}.wasm
echo "built {{name}}.wasm"
