#!/usr/bin/env bash
# Builds {{name}}.wasm: `wit-bindgen c` bindings for the sandnet:net world
# `script` (wit/), clang for wasm32-wasi with wasi-libc as a reactor (sandnet.c
# exports wasi:cli/run and calls main), then `wasm-tools component new` with
# the WASI preview1 reactor adapter pinned by adapter/Cargo.lock (cargo
# fetches it from crates.io once).
#
# Needs: Debian packages clang lld wasi-libc libclang-rt-dev-wasm32, and
#   cargo install --locked wit-bindgen-cli@0.63.0 wasm-tools@1.263.0
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p build/gen
if ! log="$(wit-bindgen c wit --world script --out-dir build/gen 2>&1)"; then
    echo "$log" >&2
    exit 1
fi
adapter="$(cargo metadata --quiet --locked --format-version 1 --manifest-path adapter/Cargo.toml |
    python3 -c 'import json, os, sys
meta = json.load(sys.stdin)
pkg = next(p for p in meta["packages"] if p["name"] == "wasi-preview1-component-adapter-provider")
print(os.path.join(os.path.dirname(pkg["manifest_path"]), "artefacts", "wasi_snapshot_preview1.reactor.wasm"))')"
clang --target=wasm32-wasi -mexec-model=reactor -Os -Wall -Wextra -I. -Ibuild/gen \
    main.c sandnet.c build/gen/script.c build/gen/script_component_type.o \
    -o build/{{name}}.core.wasm
wasm-tools component new build/{{name}}.core.wasm \
    --adapt "wasi_snapshot_preview1=$adapter" -o {{name}}.wasm
echo "built {{name}}.wasm"
