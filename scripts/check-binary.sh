#!/usr/bin/env bash
# The release binary on its own: copied into an empty directory and
# started there with no flags and no environment, it must serve its pages
# and every file of the site it was built with (target/site), byte for
# byte, and name its commit in `--version`.
#   scripts/check-binary.sh [path/to/satchel]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
binary=$(realpath "${1:-target/release/satchel}")
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-binary: $*" >&2; [[ -f $work/log ]] && tail -20 "$work/log" >&2; exit 1; }

cp "$binary" "$work/satchel"
cd "$work"
version=$(./satchel --version)
[[ $version =~ ^satchel\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{7,} ]] ||
  fail "--version does not name a commit: $version"

env -i PATH=/usr/bin:/bin ./satchel serve --listen "127.0.0.1:$port" > log 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break
  sleep 0.1
done
page=$(curl -fsS "http://127.0.0.1:$port/") || fail "/ is not served"
[[ $page == *'/pkg/satchel.js'* && $page == *'/pkg/satchel.wasm'* ]] || fail "/ does not load the bundle"
status=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/no/such/page")
[[ $status == 404 ]] || fail "/no/such/page answered $status, not the 404 page"
checked=0
while IFS= read -r -d '' file; do
  path=${file#"$repo/target/site/"}
  curl -fsS "http://127.0.0.1:$port/$path" -o served || fail "/$path is not served"
  cmp -s served "$file" || fail "/$path differs from target/site/$path"
  checked=$((checked + 1))
done < <(find "$repo/target/site" -type f -print0)
(( checked >= 4 )) || fail "only $checked files under target/site"
[[ -d data ]] || fail "no ./data made in the working directory"
grep -q 'carried in the binary' log || fail "the log does not say the site is carried"
echo "check-binary: $version serves / and its $checked site files from an empty directory"
