#!/usr/bin/env bash
# Builds every example guest into a component at target/guests/<lang>-<name>.wasm:
#   guests/rust/<name>/     (a bin crate of the guests/rust workspace) -> rust-<name>.wasm
#   guests/python/<name>/   (app.py, componentize-py, world `script`)  -> python-<name>.wasm
#   guests/js/<name>/       (app.js, componentize-js, world `script`)  -> js-<name>.wasm
#   guests/c/<name>/        (main.c, clang + wit-bindgen c + adapter)  -> c-<name>.wasm
# `scripts/build-guests.sh [LANG-NAME...]` (e.g. rust-http-get python-http-get)
# builds only those guests and installs only their languages' tools.
# Installs what is missing first (scripts/setup.sh). Prints one line per guest;
# exits non-zero on the first failure. Python, JS and C guests are rebuilt only
# when their sources, the WIT or the pinned tools are newer than the output.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="$root/target/guests"
rust_target_dir="$root/target/guests-build/rust"
componentize_py="$root/.tools/venv/bin/componentize-py"

# The guests asked for (none: all) and the setup parts their languages need.
wanted_guests=("$@")
setup_parts=()
for label in "${wanted_guests[@]}"; do
    lang="${label%%-*}"
    case "$lang" in
    rust | python | js | c) [[ " ${setup_parts[*]} " == *" $lang "* ]] || setup_parts+=("$lang") ;;
    *)
        echo "build-guests: \"$label\" is not LANG-NAME with LANG one of rust, python, js, c" >&2
        exit 2
        ;;
    esac
done
# Whether guest $1 (LANG-NAME) was asked for.
wanted() {
    ((${#wanted_guests[@]} == 0)) && return 0
    local label
    for label in "${wanted_guests[@]}"; do [[ "$label" == "$1" ]] && return 0; done
    return 1
}

"$root/scripts/setup.sh" "${setup_parts[@]}"
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

# Whether output $2 of guest $1 (label "LANG  NAME") is newer than every file
# under the paths after it (__pycache__ ignored); says so when it is.
up_to_date() {
    local label="$1" dst="$2"
    shift 2
    [[ -f "$dst" ]] || return 1
    [[ -z "$(find "$@" -name __pycache__ -prune -o -type f -newer "$dst" -print -quit)" ]] || return 1
    echo "$label: up to date ${dst#"$root"/} ($(size_of "$dst"))"
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
    if [[ -f "$dir/src/main.rs" ]] && wanted "rust-$(basename "$dir")"; then
        rust_guests+=("$(basename "$dir")")
    fi
done

if ((${#rust_guests[@]} > 0)); then
    start=$SECONDS
    # Only the asked-for packages when guests were named (a package is named
    # after its directory), else the whole workspace.
    packages=()
    if ((${#wanted_guests[@]} > 0)); then
        for name in "${rust_guests[@]}"; do packages+=(-p "$name"); done
    fi
    (cd "$root/guests/rust" &&
        cargo build --quiet --release --target wasm32-wasip2 --target-dir "$rust_target_dir" "${packages[@]}")
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
    wanted "python-$name" || continue
    dst="$out_dir/python-$name.wasm"
    if up_to_date "python  $name" "$dst" \
        "$dir" "$root/guests/python/lib" "$root/wit" "$root/guests/python/requirements.txt"; then
        continue
    fi
    start=$SECONDS
    # Build next to the output and rename, so a failed build leaves no output
    # that looks newer than its sources.
    PYTHONDONTWRITEBYTECODE=1 "$componentize_py" -d "$root/wit" -w script -q \
        componentize -p "$dir" -p "$root/guests/python/lib" sandnet.script -o "$dst.tmp"
    mv -f "$dst.tmp" "$dst"
    echo "python  $name: built ${dst#"$root"/} ($(size_of "$dst"), $((SECONDS - start))s)"
done

# --- JavaScript ------------------------------------------------------------
# guests/js/<name>/app.js, componentize-js (guests/js/package-lock.json), world
# `script` of wit/. A guest with its own world.wit (fetch-get: standard WASI
# only) is built against that world instead, with StarlingMonkey's `http`
# feature on so `fetch()` uses wasi:http. Every other guest is built with
# `-d http fetch-event`: no wasi:http imports. Never --aot (it downloads).
js_dir="$root/guests/js"
js_build="$root/target/guests-build/js"
componentize_js="$js_dir/node_modules/.bin/componentize-js"
for app in "$js_dir"/*/app.js; do
    [[ -f "$app" ]] || continue
    dir="$(dirname "$app")"
    name="$(basename "$dir")"
    wanted "js-$name" || continue
    dst="$out_dir/js-$name.wasm"
    # componentize-js output differs between builds, so rebuild only when a
    # source, the WIT or the lockfile is newer than the output.
    if up_to_date "js      $name" "$dst" \
        "$dir" "$js_dir/lib" "$root/wit" "$js_dir/package-lock.json"; then
        continue
    fi
    wit="$root/wit"
    world=script
    features=(-d http fetch-event)
    if [[ -f "$dir/world.wit" ]]; then
        wit="$js_build/$name-wit"
        rm -rf "$wit"
        mkdir -p "$wit"
        cp "$dir/world.wit" "$wit/"
        cp -R "$root/wit/deps" "$wit/deps"
        world="$(sed -n 's/^world \([a-z0-9-]*\).*/\1/p' "$dir/world.wit" | head -n 1)"
        features=(-d fetch-event)
    fi
    start=$SECONDS
    # componentize-js resolves module imports inside the current directory
    # only: build from the root with relative paths. A plain script (no
    # import, no export) is wrapped by lib/entry.mjs into a module that runs
    # it when the guest runs.
    entry="$(cd "$root" && node guests/js/lib/entry.mjs "guests/js/$name/app.js" \
        "target/guests-build/js/$name.main.js")"
    (cd "$root" && "$componentize_js" "$entry" --wit "$wit" --world-name "$world" \
        "${features[@]}" -o "$dst.tmp" >/dev/null)
    mv -f "$dst.tmp" "$dst"
    echo "js      $name: built ${dst#"$root"/} ($(size_of "$dst"), $((SECONDS - start))s)"
done

# --- C ---------------------------------------------------------------------
# guests/c/<name>/main.c + guests/c/lib/sandnet.c + the `wit-bindgen c` output
# for world `script` (generated into target/guests-build/c/gen), compiled with
# clang for wasm32-wasi (wasi-libc) as a reactor (sandnet.c exports
# wasi:cli/run and calls main; see guests/c/include/sandnet.h for why), then
# made a component with the wasi_snapshot_preview1 reactor adapter pinned by
# guests/c/adapter/Cargo.lock.
c_dir="$root/guests/c"
c_build="$root/target/guests-build/c"
c_gen="$c_build/gen"
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
wit_bindgen="$(command -v wit-bindgen || echo "$cargo_bin/wit-bindgen")"
wasm_tools="$(command -v wasm-tools || echo "$cargo_bin/wasm-tools")"
adapter=""
for main_c in "$c_dir"/*/main.c; do
    [[ -f "$main_c" ]] || continue
    dir="$(dirname "$main_c")"
    name="$(basename "$dir")"
    wanted "c-$name" || continue
    dst="$out_dir/c-$name.wasm"
    if up_to_date "c       $name" "$dst" \
        "$dir" "$c_dir/include" "$c_dir/lib" "$c_dir/adapter/Cargo.lock" "$root/wit"; then
        continue
    fi
    start=$SECONDS
    if [[ -z "$adapter" ]]; then
        # `cargo metadata` unpacks the pinned crate and says where.
        adapter="$(cargo metadata --quiet --locked --format-version 1 \
            --manifest-path "$c_dir/adapter/Cargo.toml" |
            python3 -c 'import json, os, sys
meta = json.load(sys.stdin)
pkg = next(p for p in meta["packages"] if p["name"] == "wasi-preview1-component-adapter-provider")
print(os.path.join(os.path.dirname(pkg["manifest_path"]), "artefacts", "wasi_snapshot_preview1.reactor.wasm"))')"
        rm -rf "$c_gen"
        mkdir -p "$c_gen"
        if ! log="$("$wit_bindgen" c "$root/wit" --world script --out-dir "$c_gen" 2>&1)"; then
            echo "$log" >&2
            exit 1
        fi
    fi
    clang --target=wasm32-wasi -mexec-model=reactor -Os -Wall -Wextra -Werror \
        -I"$c_dir/include" -I"$c_gen" \
        "$dir"/*.c "$c_dir/lib/sandnet.c" "$c_gen/script.c" "$c_gen/script_component_type.o" \
        -o "$c_build/$name.core.wasm"
    "$wasm_tools" component new "$c_build/$name.core.wasm" \
        --adapt "wasi_snapshot_preview1=$adapter" -o "$dst.tmp"
    mv -f "$dst.tmp" "$dst"
    echo "c       $name: built ${dst#"$root"/} ($(size_of "$dst"), $((SECONDS - start))s)"
done
