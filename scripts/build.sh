#!/usr/bin/env bash
# Builds the release `satchel` with cargo and wasm-bindgen alone: first the
# wasm bundle and its site under target/site (the layout cargo-leptos
# makes: pkg/satchel.js, pkg/satchel.wasm, pkg/satchel.css, public/), then
# the server, which carries that site inside the binary. The result,
# target/release/satchel, runs from any directory.
#   scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_build_tools

started=$SECONDS
say "building the wasm bundle (release)"
LEPTOS_OUTPUT_NAME=satchel cargo build -p frontend --lib --target wasm32-unknown-unknown \
  --profile wasm-release
wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm

# The new site is assembled beside the old one and swapped in whole, so
# a failed step never leaves half a site for the server to carry.
site=target/site
next=$(mktemp -d target/site.XXXXXX)
trap 'rm -rf "$next"' EXIT
chmod 755 "$next"
mkdir -p "$next/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$next/pkg" --out-name satchel "$wasm"
wasm-opt -Oz "$next/pkg/satchel_bg.wasm" -o "$next/pkg/satchel.wasm"
rm "$next/pkg/satchel_bg.wasm"
cp style/main.css "$next/pkg/satchel.css"
cp -R public/. "$next/"
rm -rf "$site"
mv "$next" "$site"
trap - EXIT

say "building the server (release), carrying the site"
# The commit goes into `satchel --version`.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown ]] && ! git diff --quiet HEAD 2>/dev/null; then
  commit="$commit+changes"
fi
SATCHEL_COMMIT=$commit LEPTOS_OUTPUT_NAME=satchel cargo build -p satchel --release
say "built target/release/satchel ($(target/release/satchel --version)) in $((SECONDS - started)) s"
