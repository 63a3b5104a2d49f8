#!/usr/bin/env bash
# Builds the release `satchel` with cargo and wasm-bindgen alone: the wasm
# bundle and its site under target/site (the layout cargo-leptos makes:
# pkg/satchel.js, pkg/satchel.wasm, pkg/satchel.css, public/), and the
# server, whose binary carries that site. The result,
# target/release/satchel, runs from any directory.
#
# The server's library does not carry the site (its binary's crate does),
# so it builds at the same time as the tools and the bundle, in a target
# directory of its own; the binary's small crate is built last.
#   scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_wasm_target
ensure_node_packages

started=$SECONDS
# Every build of the server sets the same variables, so none rebuilds
# what another built.
export LEPTOS_OUTPUT_NAME=satchel
library_log=target/build-library.log
mkdir -p target
say "building the server's library (release), meanwhile"
cargo build -p satchel --release --lib > "$library_log" 2>&1 &
library=$!
site=target/site
next=
cleanup() {
  kill "$library" 2>/dev/null || true
  [[ -n $next ]] && rm -rf "$next"
}
trap cleanup EXIT

ensure_wasm_bindgen
say "building the wasm bundle (release)"
CARGO_TARGET_DIR=target/wasm cargo build -p frontend --lib --target wasm32-unknown-unknown \
  --profile wasm-release
wasm=target/wasm/wasm32-unknown-unknown/wasm-release/frontend.wasm

# The new site is assembled beside the old one and swapped in whole, so
# a failed step never leaves half a site for the server to carry.
next=$(mktemp -d target/site.XXXXXX)
chmod 755 "$next"
mkdir -p "$next/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$next/pkg" --out-name satchel "$wasm"
wasm-opt -Oz "$next/pkg/satchel_bg.wasm" -o "$next/pkg/satchel.wasm"
rm "$next/pkg/satchel_bg.wasm"
cp style/main.css "$next/pkg/satchel.css"
cp -R public/. "$next/"
rm -rf "$site"
mv "$next" "$site"
next=

say "waiting for the server's library"
if ! wait "$library"; then
  tail -40 "$library_log" >&2
  echo "build.sh: building the server's library failed (whole log: $library_log)" >&2
  exit 1
fi
trap - EXIT

say "building the server's binary (release), carrying the site"
# The commit goes into `satchel --version`; only the binary's crate reads it.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown ]] && ! git diff --quiet HEAD 2>/dev/null; then
  commit="$commit+changes"
fi
SATCHEL_COMMIT=$commit cargo build -p satchel --release
say "built target/release/satchel ($(target/release/satchel --version)) in $((SECONDS - started)) s"
