#!/usr/bin/env bash
# Installs what building the guests needs, and only what is missing:
#   - the Rust target wasm32-wasip2 (Rust guests);
#   - a Python venv at .tools/venv holding the pinned componentize-py
#     (guests/python/requirements.txt);
#   - clang, lld, wasi-libc, wasm32 compiler-rt, node and npm (Debian packages),
#     wit-bindgen-cli and wasm-tools (cargo install, pinned) for the C guests;
#   - componentize-js and jco into guests/js/node_modules (npm, lockfile);
#   - redis-server, nats-server, mosquitto and mosquitto-clients for the
#     integration tests ("servers").
# `scripts/setup.sh [rust] [python] [js] [c] [servers]` installs only those
# parts (the demo needs rust and python); no argument installs everything.
# Idempotent and silent when everything is already in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/venv"
requirements="$root/guests/python/requirements.txt"

say() { printf 'setup: %s\n' "$*" >&2; }

parts=("$@")
if ((${#parts[@]} == 0)); then parts=(rust python js c servers); fi
for part in "${parts[@]}"; do
    case "$part" in
    rust | python | js | c | servers) ;;
    *)
        say "unknown part \"$part\" (expected rust, python, js, c or servers)"
        exit 2
        ;;
    esac
done
# Whether part $1 was asked for.
wants() {
    local part
    for part in "${parts[@]}"; do [[ "$part" == "$1" ]] && return 0; done
    return 1
}

# Rust target for the guests. rust-toolchain.toml names it too, but rustup only
# installs it on first use of that toolchain, so make sure here.
if ! command -v rustup >/dev/null 2>&1; then
    say "rustup not found; install it from https://rustup.rs and re-run"
    exit 1
fi
if wants rust && ! (cd "$root" && rustup target list --installed) | grep -qx wasm32-wasip2; then
    say "adding Rust target wasm32-wasip2"
    (cd "$root" && rustup target add wasm32-wasip2 >/dev/null)
fi

# Python venv with componentize-py.
if wants python; then
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
fi

# --- JavaScript and C guests ------------------------------------------------
# Debian packages: clang/lld with the wasi-libc sysroot and wasm32 compiler-rt
# for the C guests, node and npm for componentize-js. `apt-get update` runs
# only when something is missing.
missing_debs=()
if wants c; then
    for deb in clang lld wasi-libc libclang-rt-dev-wasm32; do
        dpkg -s "$deb" >/dev/null 2>&1 || missing_debs+=("$deb")
    done
fi
if wants js && ! command -v node >/dev/null 2>&1; then missing_debs+=(nodejs); fi
if wants js && ! command -v npm >/dev/null 2>&1; then missing_debs+=(npm); fi
if ((${#missing_debs[@]} > 0)); then
    say "installing ${missing_debs[*]} (apt-get)"
    apt_sudo=()
    if [[ $(id -u) -ne 0 ]]; then apt_sudo=(sudo); fi
    "${apt_sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${apt_sudo[@]}" apt-get install -y -qq "${missing_debs[@]}" >/dev/null
fi

# Cargo-installed tools for the C guests, pinned; installed only when missing.
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
for tool in wit-bindgen:wit-bindgen-cli@0.63.0 wasm-tools:wasm-tools@1.263.0; do
    command="${tool%%:*}"
    crate="${tool#*:}"
    if wants c && ! command -v "$command" >/dev/null 2>&1 && [[ ! -x "$cargo_bin/$command" ]]; then
        say "installing $crate (cargo install, a few minutes)"
        cargo install --quiet --locked "$crate"
    fi
done

# componentize-js and jco, exactly as guests/js/package-lock.json pins them:
# `npm ci` installs the locked tree as is and never rewrites the lockfile (it
# lists every platform's optional binaries, so it installs on any machine).
js_dir="$root/guests/js"
if wants js && { [[ ! -f "$js_dir/node_modules/.package-lock.json" ]] ||
    [[ "$js_dir/package-lock.json" -nt "$js_dir/node_modules/.package-lock.json" ]]; }; then
    say "installing guests/js/package-lock.json into guests/js/node_modules (npm)"
    (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# Servers the integration tests start on 127.0.0.1 (Debian packages):
# redis-server (tests/tcp.rs), nats-server (tests/bus.rs, NATS across hosts),
# mosquitto + mosquitto-clients (tests/mqtt.rs). Not needed to build
# anything, so a failed install warns loudly instead of failing the setup;
# the tests that need the server then fail naming this step.
# install_server COMMAND TESTS PACKAGE...: installs PACKAGEs unless COMMAND exists.
install_server() {
    local command="$1" tests="$2"
    shift 2
    if command -v "$command" >/dev/null 2>&1 || [[ -x "/usr/bin/$command" ]] || [[ -x "/usr/sbin/$command" ]]; then
        return 0
    fi
    local sudo_cmd=() installed=0
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
    if command -v apt-get >/dev/null 2>&1; then
        say "installing $* (Debian packages) for $tests"
        if ! apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
        fi
        if DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
            --no-install-recommends "$@" >/dev/null 2>&1; then
            installed=1
        fi
    fi
    if [[ $installed -eq 0 ]]; then
        say "WARNING: could not install $* (no apt-get, no permission or no network)."
        say "WARNING: the tests in $tests will FAIL until it is installed:"
        say "WARNING:   apt-get install $*"
    fi
}
if wants servers; then
    install_server redis-server tests/it/tcp.rs redis-server
    install_server nats-server tests/it/bus.rs nats-server
    install_server mosquitto tests/it/mqtt.rs mosquitto
    install_server mosquitto_sub tests/it/mqtt.rs mosquitto-clients
fi
