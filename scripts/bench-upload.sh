#!/usr/bin/env bash
# The ingest benchmark: a durable raw write, Satchel and rustus (a Rust
# tus server, pinned below and installed from crates.io when missing)
# receive the same 1 GiB, round after round; prints MB/s, the ratios per
# round and their medians. SATCHEL_BENCH_BYTES, SATCHEL_BENCH_ROUNDS,
# SATCHEL_BENCH_WINDOW and SATCHEL_BENCH_DIR change the load.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

RUSTUS_VERSION=0.5.10
if [[ $(rustus --version 2>/dev/null) != *"$RUSTUS_VERSION"* ]] \
  && ! cargo install --list | grep -q "^rustus v$RUSTUS_VERSION:"; then
  say "installing rustus $RUSTUS_VERSION (a few minutes)"
  cargo install rustus --version "$RUSTUS_VERSION" --locked
fi
cargo bench -p satchel --bench upload
