#!/usr/bin/env bash
# README command 1: install what is missing, build the host and the guests, start a
# local HTTP server (no internet needed) and run real guests through a policy:
# one request the policy allows, one it denies.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Only the two guests shown (and only the Rust and Python toolchains); the
# test command builds every guest. The host builds meanwhile, with the `demo`
# profile (Cargo.toml: release at opt-level 1, about half the build time).
echo "==> building sandnet (profile demo) while the guests build"
cargo build --profile demo --quiet -p sandnet &
host_build=$!
scripts/build-guests.sh rust-http-get python-http-get
wait "$host_build"
sandnet="$root/target/demo/sandnet"

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/www/public" "$work/www/private"
echo "hello from a local server" > "$work/www/public/hello.txt"
echo "top secret" > "$work/www/private/key.txt"
python3 - "$work/www" <<'PY' &
import functools, http.server, sys
root = sys.argv[1]
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(QuietHandler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
with open(root + "/../port", "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
PY
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

cat > "$work/policy.toml" <<TOML
# Grants the demo guests GET on /public/ of the local server, nothing else.
[guest.demo]
allow = ["GET http://127.0.0.1:$port/public/*"]
TOML
echo "==> policy ($work/policy.toml):"
sed 's/^/    /' "$work/policy.toml"

for lang in rust python; do
  guest="target/guests/$lang-http-get.wasm"
  echo
  echo "==> $lang guest, allowed: GET http://127.0.0.1:$port/public/hello.txt"
  "$sandnet" run "$guest" --policy "$work/policy.toml" -- "http://127.0.0.1:$port/public/hello.txt"
  echo "    (exit status $?)"
  echo "==> $lang guest, denied: GET http://127.0.0.1:$port/private/key.txt"
  set +e
  "$sandnet" run "$guest" --policy "$work/policy.toml" -- "http://127.0.0.1:$port/private/key.txt"
  status=$?
  set -e
  echo "    (exit status $status)"
  [ "$status" -ne 0 ] || { echo "demo: the denied request was not refused" >&2; exit 1; }
done

echo
echo "==> sandnet explain agrees:"
"$sandnet" explain --policy "$work/policy.toml" "GET http://127.0.0.1:$port/public/hello.txt" || true
"$sandnet" explain --policy "$work/policy.toml" "GET http://127.0.0.1:$port/private/key.txt" || true
