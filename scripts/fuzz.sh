#!/usr/bin/env bash
# Long runs of the property tests (stable Rust, proptest; no nightly needed):
# the policy file parser, the target/URL parser and matcher (round trip,
# checked form = sent form, deny prefixes against tricked paths), the SSE
# parser and guest header intake. Not part of CI's default run, which uses
# proptest's small default case count.
#
#   scripts/fuzz.sh [CASES]      # cases per property, default 200000
#
# Each property stops after CASES cases or SANDNET_FUZZ_SECONDS (default 120)
# seconds, whichever comes first; findings fail the run with the minimal
# failing input, which belongs in a table test once fixed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cases=${1:-200000}
seconds=${SANDNET_FUZZ_SECONDS:-120}
export PROPTEST_CASES=$cases
export PROPTEST_MAX_SHRINK_ITERS=100000
echo "fuzz: $cases cases per property, at most ${seconds}s per suite"
start=$SECONDS
timeout "$seconds" cargo test --release -q -p sandnet-policy proptests -- --test-threads=2
timeout "$seconds" cargo test --release -q -p sandnet --lib props -- --test-threads=2
echo "fuzz: done in $((SECONDS - start))s, no findings"
