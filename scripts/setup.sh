#!/usr/bin/env bash
# Installs what building the guests needs, and only what is missing:
#   - the Rust target wasm32-wasip2 (Rust guests);
#   - a Python venv at .tools/venv holding the pinned componentize-py
#     (guests/python/requirements.txt).
# Idempotent and silent when everything is already in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/venv"
requirements="$root/guests/python/requirements.txt"

say() { printf 'setup: %s\n' "$*" >&2; }

# Rust target for the guests. rust-toolchain.toml names it too, but rustup only
# installs it on first use of that toolchain, so make sure here.
if ! command -v rustup >/dev/null 2>&1; then
    say "rustup not found; install it from https://rustup.rs and re-run"
    exit 1
fi
if ! (cd "$root" && rustup target list --installed) | grep -qx wasm32-wasip2; then
    say "adding Rust target wasm32-wasip2"
    (cd "$root" && rustup target add wasm32-wasip2 >/dev/null)
fi

# Python venv with componentize-py.
if [[ ! -x "$venv/bin/python" ]]; then
    if ! command -v python3 >/dev/null 2>&1; then
        say "python3 not found; install it (e.g. apt-get install python3) and re-run"
        exit 1
    fi
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        say "python3 venv module missing; installing python3-venv"
        sudo_cmd=()
        if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
        "${sudo_cmd[@]}" apt-get update -qq
        "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >/dev/null
    fi
    say "creating venv at ${venv#"$root"/}"
    rm -rf "$venv"
    python3 -m venv "$venv"
fi

# Install only when a pinned requirement is missing or at another version.
# Each line of requirements.txt is `name==version` (comments and blanks allowed).
needs_install=0
while IFS= read -r line; do
    line="${line%%#*}"
    line="${line//[[:space:]]/}"
    if [[ -z "$line" ]]; then continue; fi
    name="${line%%==*}"
    want="${line#*==}"
    have="$("$venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)"
    if [[ "$have" != "$want" ]]; then
        needs_install=1
    fi
done <"$requirements"

if [[ $needs_install -eq 1 ]]; then
    say "installing $(grep -v '^[[:space:]]*#' "$requirements" | tr '\n' ' ')into ${venv#"$root"/}"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
fi
