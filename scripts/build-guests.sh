#!/usr/bin/env bash
# Builds every example guest into a component at target/guests/<lang>-<name>.wasm:
#   guests/rust/<name>/     (a bin crate of the guests/rust workspace) -> rust-<name>.wasm
#   guests/python/<name>/   (app.py, componentize-py, world `script`)  -> python-<name>.wasm
# Installs what is missing first (scripts/setup.sh). Prints one line per guest;
# exits non-zero on the first failure. Python guests are rebuilt only when
# their sources, the WIT or the pinned requirements are newer than the output.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="$root/target/guests"
rust_target_dir="$root/target/guests-build/rust"
componentize_py="$root/.tools/venv/bin/componentize-py"

"$root/scripts/setup.sh"
mkdir -p "$out_dir"

# "123 KB" / "17.6 MB" for a file.
size_of() {
    local bytes
    bytes=$(wc -c <"$1")
    if ((bytes >= 1048576)); then
        awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1048576 }'
    else
        echo "$((bytes / 1024)) KB"
    fi
}

# Copies $1 to $2 unless identical, so an unchanged guest keeps its mtime.
install_if_changed() {
    if ! cmp -s "$1" "$2"; then
        cp "$1" "$2.tmp"
        mv -f "$2.tmp" "$2"
        echo "built"
    else
        echo "unchanged"
    fi
}

# --- Rust ------------------------------------------------------------------
# When this script runs from a cargo build script, cargo's own settings for the
# host build must not leak into the guest build.
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_TARGET CARGO_TARGET_DIR

rust_guests=()
for manifest in "$root"/guests/rust/*/Cargo.toml; do
    dir="$(dirname "$manifest")"
    if [[ -f "$dir/src/main.rs" ]]; then
        rust_guests+=("$(basename "$dir")")
    fi
done

if ((${#rust_guests[@]} > 0)); then
    start=$SECONDS
    (cd "$root/guests/rust" &&
        cargo build --quiet --release --target wasm32-wasip2 --target-dir "$rust_target_dir")
    secs=$((SECONDS - start))
    for name in "${rust_guests[@]}"; do
        src="$rust_target_dir/wasm32-wasip2/release/$name.wasm"
        dst="$out_dir/rust-$name.wasm"
        if [[ ! -f "$src" ]]; then
            echo "build-guests: cargo produced no $src (is the bin named after its directory?)" >&2
            exit 1
        fi
        state="$(install_if_changed "$src" "$dst")"
        echo "rust    $name: $state ${dst#"$root"/} ($(size_of "$dst"), workspace build ${secs}s)"
    done
fi

# --- Python ----------------------------------------------------------------
for app in "$root"/guests/python/*/app.py; do
    [[ -f "$app" ]] || continue
    dir="$(dirname "$app")"
    name="$(basename "$dir")"
    dst="$out_dir/python-$name.wasm"
    if [[ -f "$dst" ]] &&
        [[ -z "$(find "$dir" "$root/guests/python/lib" "$root/wit" "$root/guests/python/requirements.txt" \
            -name __pycache__ -prune -o -type f -newer "$dst" -print -quit)" ]]; then
        echo "python  $name: up to date ${dst#"$root"/} ($(size_of "$dst"))"
        continue
    fi
    start=$SECONDS
    # Build next to the output and rename, so a failed build leaves no output
    # that looks newer than its sources.
    PYTHONDONTWRITEBYTECODE=1 "$componentize_py" -d "$root/wit" -w script -q \
        componentize -p "$dir" -p "$root/guests/python/lib" app -o "$dst.tmp"
    mv -f "$dst.tmp" "$dst"
    echo "python  $name: built ${dst#"$root"/} ($(size_of "$dst"), $((SECONDS - start))s)"
done
