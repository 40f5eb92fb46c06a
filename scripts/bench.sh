#!/usr/bin/env bash
# Benchmarks of issue 13 (docs/benchmarks.md): installs the peers it compares
# against (wasmtime-cli 48, Deno, nginx) into a cache, builds the guests and the
# bench binary, then runs native, sandnet and the peers on the same workloads in
# interleaved rounds, pinned to one core and unpinned. Not part of CI.
#
#   scripts/bench.sh [--quick] [--install-only] [--skip PEER]... [--pinned-only|--unpinned-only] [-- BENCH ARGS]
#
# --quick: fewer rounds and requests, smaller download (a few minutes).
# --skip wasmtime|deno|nginx: leave that peer out (e.g. while it installs elsewhere).
# BENCH ARGS go to host/benches/bench (e.g. `--only http --only ws`).
# A peer that cannot be installed is skipped, loudly.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

peers=${SANDNET_BENCH_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/sandnet-bench}
quick=0 install_only=0 modes="pinned unpinned" extra=() skipped=" "
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --install-only) install_only=1 ;;
        --skip) shift; skipped+="$1 " ;;
        --pinned-only) modes="pinned" ;;
        --unpinned-only) modes="unpinned" ;;
        --) shift; extra=("$@"); break ;;
        *) echo "bench.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$peers"

skip() { echo "bench.sh: SKIPPING PEER $1: $2" >&2; }

install_wasmtime() {
    local bin="$peers/wasmtime/bin/wasmtime"
    if [ -x "$bin" ] && "$bin" --version | grep -q '^wasmtime 48\.'; then
        echo "$bin"; return
    fi
    echo "bench.sh: installing wasmtime-cli 48 into $peers/wasmtime (takes 10-30 minutes)" >&2
    if nice cargo install --locked --quiet wasmtime-cli@^48 --root "$peers/wasmtime" >&2; then
        echo "$bin"
    else
        skip "wasmtime run" "cargo install --locked wasmtime-cli@^48 failed"
    fi
}

install_deno() {
    local bin="$peers/deno/node_modules/.bin/deno"
    if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
        echo "$bin"; return
    fi
    echo "bench.sh: installing Deno from the npm registry into $peers/deno" >&2
    if npm install --silent --prefix "$peers/deno" deno >&2 && "$bin" --version >/dev/null 2>&1; then
        echo "$bin"
    else
        skip "Deno" "npm install deno failed"
    fi
}

install_nginx() {
    if command -v nginx >/dev/null; then command -v nginx; return; fi
    for candidate in /usr/sbin/nginx; do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
    echo "bench.sh: installing nginx from Debian" >&2
    if { apt-get install -y -qq nginx-light >&2 || { apt-get update -qq >&2 && apt-get install -y -qq nginx-light >&2; }; } \
        && [ -x /usr/sbin/nginx ]; then
        echo /usr/sbin/nginx
    else
        skip "nginx" "apt-get install nginx-light failed; the HTTP server is the bench's own hyper server"
    fi
}

wanted() { [[ "$skipped" != *" $1 "* ]] || { skip "$1" "--skip $1"; false; }; }
nginx_bin= deno_bin= wasmtime_bin=
if wanted nginx; then nginx_bin=$(install_nginx || true); fi
if wanted deno; then deno_bin=$(install_deno || true); fi
if wanted wasmtime; then wasmtime_bin=$(install_wasmtime || true); fi
echo "bench.sh: peers: nginx=${nginx_bin:-none} deno=${deno_bin:-none} wasmtime=${wasmtime_bin:-none}" >&2
[ "$install_only" = 1 ] && exit 0

scripts/build-guests.sh >&2
cargo bench --no-run -p sandnet --bench bench >&2 2>/dev/null || true
args=()
[ "$quick" = 1 ] && args+=(--quick)
[ -n "$nginx_bin" ] && args+=(--nginx "$nginx_bin")
[ -n "$deno_bin" ] && args+=(--deno "$deno_bin")
[ -n "$wasmtime_bin" ] && args+=(--wasmtime "$wasmtime_bin")
args+=(--peers-dir "$peers")
for mode in $modes; do
    echo
    echo "=== $mode ($(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)) ==="
    if [ "$mode" = pinned ]; then
        taskset -c 0 cargo bench -q -p sandnet --bench bench -- "${args[@]}" --mode pinned "${extra[@]}"
    else
        cargo bench -q -p sandnet --bench bench -- "${args[@]}" --mode unpinned "${extra[@]}"
    fi
done

# Many guests in one host (`sandnet up`'s Fleet): 1,000 idle guests each
# holding a WebSocket (start and RSS per guest), then echo latency next to
# spinning guests. Unpinned: they measure a whole host, not one core.
if [ "$modes" != pinned ]; then
    echo
    echo "=== fleet: idle guests and isolation (load average $(cut -d' ' -f1-3 /proc/loadavg)) ==="
    idle=1000
    [ "$quick" = 1 ] && idle=200
    cargo bench -q -p sandnet --bench fleet_idle -- "$idle"
    cargo bench -q -p sandnet --bench fleet_isolation -- "$(nproc)"
fi
