#!/usr/bin/env bash
# The upload widget's benchmark: builds the release (bundle and server),
# then uploads the same file with the widget and with a plain fetch loop
# in one headless Chromium run, and prints MB/s, their ratio and the
# bundle's size. SATCHEL_BENCH_MB (default 200), SATCHEL_BENCH_ROUNDS
# (default 3) and SATCHEL_BENCH_DIR change the load and the location.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

ensure_build_tools
ensure_chromium
cargo leptos build --release
node end2end/bench/widget.mjs
