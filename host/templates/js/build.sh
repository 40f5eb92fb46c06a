#!/usr/bin/env bash
# Builds {{name}}.wasm from app.js with componentize-js 0.23.0 (world `script`
# of the sandnet:net WIT in wit/). A plain script (no import, no export) is
# first wrapped by entry.mjs into build/main.js, a module that runs it when
# the guest runs. Installs componentize-js into node_modules first if it is
# missing. Never pass --aot: it downloads a compiler.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x node_modules/.bin/componentize-js ]]; then
    npm install --no-audit --no-fund --loglevel=error
fi
npm run --silent build
echo "built {{name}}.wasm"
