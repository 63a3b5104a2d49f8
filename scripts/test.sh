#!/usr/bin/env bash
# Installs whatever is missing, then runs every check and test: formatting,
# clippy, the Rust tests on SQLite and PostgreSQL (and S3 through s3s-fs),
# and the Playwright suite in Chromium against a fresh release build.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

started=$SECONDS
# A cold run writes about 10 GB under target/ (debug tests and the release
# build); a disk that fills midway shows up as a linker crash (SIGBUS).
free_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
if (( free_kb < 12 * 1024 * 1024 )); then
  echo "warning: only $((free_kb / 1024)) MB free on this disk; a cold run needs about 10 GB" >&2
fi
ensure_build_tools
ensure_chromium
ensure_s3s_fs
ensure_python_clients
rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
if ! pg_isready -q -d "$DATABASE_URL"; then
  echo "PostgreSQL is not answering at $DATABASE_URL; start it or set DATABASE_URL" >&2
  exit 1
fi
# Databases left by tests that were killed midway.
psql -q -X -At -d "$DATABASE_URL" -c "select datname from pg_database where datname like 'satchel_test_%'" |
  while read -r name; do psql -q -X -d "$DATABASE_URL" -c "drop database if exists \"$name\" with (force)"; done

# Each stage is timed; the summary at the end shows where the time went.
timings=()
stage() {
  local name=$1 began=$SECONDS
  shift
  say "$name"
  "$@"
  timings+=("$(printf '%5d s  %s' $((SECONDS - began)) "$name")")
}
clippy_all() {
  cargo clippy -p satchel -p app --all-targets -- -D warnings
  cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
}

stage "formatting" cargo fmt --all --check
stage "clippy (server and app, then the wasm bundle)" clippy_all
# The release build comes before the Rust tests: they read the site it
# lays out under target/site.
stage "release build (scripts/build.sh)" scripts/build.sh
stage "Rust tests (SQLite, PostgreSQL, local disk, S3)" cargo test -p satchel -p app
stage "the release binary alone, from an empty directory" scripts/check-binary.sh target/release/satchel
stage "Kommo integration (PHP) on SQLite and PostgreSQL" scripts/kommo-integration.sh target/release/satchel
stage "tuspy (PyPI) through a link that drops" \
  target/py-clients/bin/python end2end/clients/tuspy_upload.py target/release/satchel
stage "OpenAPI contract (schemathesis, every operation, all checks)" \
  scripts/schemathesis.sh target/release/satchel
stage "browser tests (Playwright, Chromium)" bash -c 'cd end2end && npx playwright test'

say "all checks passed in $((SECONDS - started)) s"
printf '%s\n' "${timings[@]}" >&2
