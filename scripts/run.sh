#!/usr/bin/env bash
# Builds Satchel (release) and serves it on the embedded default, SQLite
# and local disk under ./data, at http://127.0.0.1:3000. Extra arguments
# go to `satchel serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

ensure_build_tools
say "building (release)"
cargo leptos build --release
say "serving on ${SATCHEL_LISTEN:-127.0.0.1:3000}"
exec target/release/satchel serve "$@"
