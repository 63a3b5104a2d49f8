#!/usr/bin/env bash
# The upload widget's benchmark: builds the release (bundle and server),
# then, in one headless Chromium run, uploads the same file with the
# widget and as one streamed fetch to a local sink, on emulated links (40
# ms / 200 Mbit/s, 150 ms / 50 Mbit/s) and on loopback, and prints MB/s,
# ratios and the bundle's size. SATCHEL_BENCH_MB (MiB, default 64),
# SATCHEL_BENCH_ROUNDS (default 3), SATCHEL_BENCH_LINKS and
# SATCHEL_BENCH_DIR change the load, the links and the location;
# SATCHEL_BENCH_TIMELINE=1 prints each request the widget made, and
# SATCHEL_BENCH_LOG sets the server's RUST_LOG (its log then shows).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

ensure_build_tools
ensure_chromium
scripts/build.sh
node end2end/bench/widget.mjs
