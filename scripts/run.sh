#!/usr/bin/env bash
# Builds Satchel (release) and serves it on the embedded default, SQLite
# and local disk under ./data, at http://127.0.0.1:3000. On an empty
# database it first adds the demo data (`satchel demo-seed`). Extra
# arguments go to `satchel serve` (and `demo-seed`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

scripts/build.sh
# An empty database gets the demo data, so there is something to see;
# one that holds data is left alone.
target/release/satchel demo-seed "$@"
say "serving (the address is in the log line below)"
exec target/release/satchel serve "$@"
