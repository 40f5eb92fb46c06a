#!/usr/bin/env bash
# Builds {{name}}.wasm from app.js with componentize-js 0.23.0 (world `script`
# of the sandnet:net WIT in wit/). A plain script (no import, no export) is
# first wrapped by entry.mjs into build/main.js, a module that runs it when
# the guest runs. componentize-js comes from ./node_modules when the project
# has one (`npm install`), else from a shared cache installed once per machine
# ($SANDNET_TOOLCHAINS, default ~/.cache/sandnet/toolchains), not per
# project. Never pass --aot: it downloads a compiler.
set -euo pipefail
cd "$(dirname "$0")"
componentize_js=node_modules/.bin/componentize-js
if [[ ! -x "$componentize_js" ]]; then
    toolchains="${SANDNET_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/sandnet/toolchains}"
    tools="$toolchains/componentize-js-0.23.0"
    componentize_js="$tools/node_modules/.bin/componentize-js"
    if [[ ! -x "$componentize_js" ]]; then
        echo "installing componentize-js 0.23.0 into $tools (once per machine)…" >&2
        mkdir -p "$tools"
        # preview2-shim: componentize-js 0.23.0 imports it without declaring it.
        npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
            @bytecodealliance/componentize-js@0.23.0 @bytecodealliance/preview2-shim@0.25.0
    fi
fi
"$componentize_js" "$(node entry.mjs app.js build/main.js)" --wit wit --world-name script \
    -d http fetch-event -o {{name}}.wasm
echo "built {{name}}.wasm"
