#!/usr/bin/env bash
# Runs compat/kommo/integration.php, a Kommo drive integration in plain PHP
# with curl, against a real Satchel: once on SQLite and once on PostgreSQL,
# each time on a fresh data directory (and database) and a free port.
#
#   scripts/kommo-integration.sh [path/to/satchel]   (default target/release/satchel)
#
# Installs php-cli and php-curl from Debian when missing. PostgreSQL is
# reached at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
# where a fresh database is created and dropped afterwards. Exits non-zero
# when either run fails, after printing that server's log.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

binary=${1:-target/release/satchel}
if [[ ! -x $binary ]]; then
  echo "kommo-integration: no satchel binary at $binary (build it first)" >&2
  exit 1
fi
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
script=$PWD/compat/kommo/integration.php
database_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# --- PHP with curl, as a Kommo integrator runs it --------------------------

php_ready() {
  command -v php >/dev/null && php -r 'exit(extension_loaded("curl") ? 0 : 1);' 2>/dev/null
}
if ! php_ready; then
  say "installing php-cli and php-curl"
  apt_log=$(mktemp)
  if ! { as_root apt-get update -qq && as_root apt-get install -y -qq php-cli php-curl; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    echo "kommo-integration: could not install php-cli and php-curl" >&2
    exit 1
  fi
  rm -f "$apt_log"
  php_ready || { echo "kommo-integration: php or its curl extension is still missing" >&2; exit 1; }
fi

# --- what each run starts, and its cleanup -----------------------------------

server_pid=
work_dir=
pg_database=

stop_server() {
  [[ -n $server_pid ]] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$server_pid" 2>/dev/null && kill -9 "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

drop_database() {
  [[ -n $pg_database ]] || return 0
  psql -q -X -d "$database_url" -c "drop database if exists \"$pg_database\" with (force)" >/dev/null 2>&1 || true
  pg_database=
}

cleanup() {
  stop_server
  drop_database
  if [[ -n $work_dir ]]; then rm -rf "$work_dir"; fi
  work_dir=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port the kernel reports free right now.
free_port() {
  php -r '$s = stream_socket_server("tcp://127.0.0.1:0", $errno, $error) or exit(1);
          echo substr(strrchr(stream_socket_get_name($s, false), ":"), 1), "\n";'
}

# healthz answers 200: the server is up.
healthy() {
  php -r '$c = stream_context_create(["http" => ["timeout" => 1, "ignore_errors" => true]]);
          @file_get_contents($argv[1], false, $c);
          exit(isset($http_response_header[0]) && strpos($http_response_header[0], " 200") !== false ? 0 : 1);' \
    "$1/healthz"
}

# The URL of database $2 on the server that $1 points at.
database_named() {
  local url=$1 name=$2 base query=
  base=${url%%\?*}
  [[ $url == *\?* ]] && query=${url#*\?}
  local rest=${base#*://}
  [[ $rest == */* ]] && base=${base%/*}
  echo "$base/$name${query:+?$query}"
}

# run_integration LABEL [DATABASE_URL]: a server on a fresh data directory
# and that database (default: SQLite in the data directory), the PHP
# integration against it.
run_integration() {
  local label=$1
  work_dir=$(mktemp -d "${TMPDIR:-/tmp}/satchel-kommo.XXXXXX")
  local log=$work_dir/server.log data=$work_dir/data
  local db_url=${2:-sqlite://$data/satchel.db}

  local token
  if ! token=$(RUST_LOG=warn "$binary" token create --scopes files,files_delete,crm \
      --account kommo-integration --data-dir "$data" --database-url "$db_url" 2>"$log"); then
    cat "$log" >&2
    echo "kommo-integration ($label): satchel token create failed" >&2
    return 1
  fi
  if [[ -z $token || $token == *[[:space:]]* ]]; then
    echo "kommo-integration ($label): satchel token create printed no token" >&2
    return 1
  fi

  local port url attempt
  for attempt in 1 2 3; do
    port=$(free_port)
    url=http://127.0.0.1:$port
    "$binary" serve --listen "127.0.0.1:$port" --public-url "$url" \
      --data-dir "$data" --database-url "$db_url" >>"$log" 2>&1 &
    server_pid=$!
    local up=
    for _ in $(seq 300); do
      if healthy "$url"; then up=1; break; fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    [[ -n $up ]] && break
    stop_server
    # Another process may have taken the port in between: try another.
    if (( attempt == 3 )) || ! grep -qi 'address.*in use' "$log"; then
      cat "$log" >&2
      echo "kommo-integration ($label): the server did not answer /healthz" >&2
      return 1
    fi
  done

  echo "Satchel on $label at $url" >&2
  if ! KOMMO_BASE_URL=$url KOMMO_TOKEN=$token php "$script"; then
    echo "---- server log ($label) ----" >&2
    cat "$log" >&2
    echo "---- end of server log ----" >&2
    echo "kommo-integration: the integration failed on $label" >&2
    return 1
  fi
  stop_server
  rm -rf "$work_dir"
  work_dir=
}

# --- SQLite --------------------------------------------------------------------

say "Kommo integration on SQLite"
run_integration SQLite

# --- PostgreSQL ------------------------------------------------------------------

say "Kommo integration on PostgreSQL"
if ! pg_isready -q -d "$database_url"; then
  echo "kommo-integration: PostgreSQL is not answering at $database_url; start it or set DATABASE_URL" >&2
  exit 1
fi
# The satchel_test_ prefix lets scripts/test.sh drop it if this run is killed.
pg_database=satchel_test_kommo_$$_$RANDOM
psql -q -X -d "$database_url" -c "create database \"$pg_database\"" >/dev/null
run_integration PostgreSQL "$(database_named "$database_url" "$pg_database")"
drop_database

say "Kommo integration passed on SQLite and PostgreSQL"
