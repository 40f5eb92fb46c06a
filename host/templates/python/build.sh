#!/usr/bin/env bash
# Builds {{name}}.wasm from app.py with componentize-py 0.25.1 (world `script`
# of the sandnet:net WIT in wit/). Installs componentize-py into .venv first
# if it is missing.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x .venv/bin/componentize-py ]]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check componentize-py==0.25.1
fi
PYTHONDONTWRITEBYTECODE=1 .venv/bin/componentize-py -d wit -w script -q \
    componentize -p . app -o {{name}}.wasm
echo "built {{name}}.wasm"
