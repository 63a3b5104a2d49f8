#!/usr/bin/env bash
# Same client, three servers, one run: tus-js-client in Node uploads the
# same file on loopback to Satchel's tus face, to @tus/server with its file
# store, and to rustus (--force-fsync) when it is on PATH
# (scripts/bench-upload.sh installs it), round after round; prints MB/s,
# the ratios per round and their medians, and checks Satchel's SHA-256 of
# every upload. SATCHEL_BENCH_MB (MiB, default 1024), SATCHEL_BENCH_ROUNDS
# (default 3), SATCHEL_BENCH_CHUNK_MB (default 0: one PATCH) and
# SATCHEL_BENCH_DIR change the load and the location.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

ensure_node_packages
if [[ ! -x target/release/satchel ]]; then
  ensure_build_tools
  scripts/build.sh
fi
node end2end/bench/tus.mjs
