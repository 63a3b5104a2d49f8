#!/usr/bin/env bash
# The OpenAPI contract, checked by schemathesis (PyPI) against a running
# server: every operation of /api/openapi.json, with a token that holds
# every scope, all checks. Any failure or server error fails the run.
#   scripts/schemathesis.sh [path/to/satchel]
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(realpath "${1:-target/release/satchel}")
python=target/py-clients/bin
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DATABASE_URL="sqlite://$work/data/satchel.db"
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

token=$(RUST_LOG=warn "$binary" token create --scopes files,files_delete,crm --data-dir "$work/data" 2>/dev/null)
RUST_LOG=warn "$binary" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
  > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break
  sleep 0.1
done

# Seeds for the paths' identifiers: a file and a lead that exist.
file=$(curl -fsS -X POST "http://127.0.0.1:$port/tus" -H "Authorization: Bearer $token" \
  -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: 0' -H 'Upload-Metadata: filename c2VlZC50eHQ=' \
  -D - -o /dev/null | tr -d '\r' | awk -F': ' 'tolower($1) == "satchel-file-uuid" { print $2 }')
echo "seed file $file"

PYTHONPATH=end2end/clients SCHEMATHESIS_HOOKS=schemathesis_hooks \
"$python/schemathesis" --config-file end2end/clients/schemathesis.toml run "http://127.0.0.1:$port/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --max-examples "${SATCHEL_SCHEMATHESIS_EXAMPLES:-30}" \
  --seed "${SATCHEL_SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  --no-color \
  --workers 1 \
  "${@:2}"
