#!/usr/bin/env bash
# README command 2: install what is missing, build the guests, run every test.
# Release profile: wasmtime compiles the 18 MB Python guest many times faster.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh
cargo build --release --quiet -p sandnet
cargo test --workspace --release "$@"
