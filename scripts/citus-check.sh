#!/usr/bin/env bash
# Custodian on a throwaway Citus cluster: a coordinator and two workers on
# free ports in a temp dir, `serve --demo` to migrate and load the demo,
# every table distributed or made a reference table as ARCHITECTURE.md
# "Distribution keys" lists it (foreign keys between distributed tables
# dropped for the move and added back, as Citus's migration guide does),
# then the contract test (.ci/contract's schemathesis run) against the
# server on the coordinator.
#
# Needs Citus installed into the PostgreSQL whose binaries PG_BIN names
# (default /usr/lib/postgresql/15/bin): Debian 12 packages none, so this is
# not part of CI; build it from source (citusdata/citus, a release that
# supports your PostgreSQL; with Debian's postgresql-server-dev-15,
# libkrb5-dev, liblz4-dev and libzstd-dev, `./configure --without-libcurl
# && make && make install`. Citus 13.2.2 on PostgreSQL 15.20 also needs
# the static `have_createdb_privilege` in src/include/pg_version_compat.h
# left out: 15.20 exports that function itself). Run as root (it starts PostgreSQL as
# `postgres`) after a debug build: `bash scripts/citus-check.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
bin="${CARGO_TARGET_DIR:-$root/target}/debug/custodian"
venv="${CONTRACT_VENV:-$root/target/contract-venv}"
[ -x "$bin" ] || { echo "no $bin: build it first (cargo build -p custodian-cli)"; exit 1; }
[ -x "$venv/bin/st" ] || { echo "no schemathesis in $venv: run .ci/contract once"; exit 1; }
[ -f "$("$PG_BIN/pg_config" --pkglibdir)/citus.so" ] || { echo "no citus.so for $PG_BIN"; exit 1; }

dir="$(mktemp -d /tmp/custodian-citus-XXXX)"
chown postgres "$dir"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ports=("$(free_port)" "$(free_port)" "$(free_port)")
server=""
stop() {
  [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  for p in "${ports[@]}"; do
    [ -d "$dir/$p" ] && su postgres -c "$PG_BIN/pg_ctl -D $dir/$p -m immediate stop" >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}
trap stop EXIT

psql_at() { psql -h 127.0.0.1 -p "$1" -U postgres -v ON_ERROR_STOP=1 -qAt "${@:2}"; }
echo "== Citus: coordinator on ${ports[0]}, workers on ${ports[1]} and ${ports[2]} ($dir)"
for p in "${ports[@]}"; do
  su postgres -c "$PG_BIN/initdb -A trust -U postgres -D $dir/$p" >/dev/null
  cat >> "$dir/$p/postgresql.conf" <<CONF
port = $p
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 200
CONF
  su postgres -c "$PG_BIN/pg_ctl -D $dir/$p -l $dir/$p.log -w start" >/dev/null
  psql_at "$p" -c "CREATE DATABASE custodian"
  psql_at "$p" -d custodian -c "CREATE EXTENSION citus"
done
psql_at "${ports[0]}" -d custodian \
  -c "SELECT citus_set_coordinator_host('127.0.0.1', ${ports[0]})" \
  -c "SELECT citus_add_node('127.0.0.1', ${ports[1]})" \
  -c "SELECT citus_add_node('127.0.0.1', ${ports[2]})" >/dev/null

# Citus makes its nodes a self-signed certificate that sqlx's TLS refuses.
export CUSTODIAN_DATABASE_URL="postgres://postgres@127.0.0.1:${ports[0]}/custodian?sslmode=disable"
port="$(free_port)"
base="http://127.0.0.1:$port"
serve() {
  "$bin" serve --demo --demo-dir "$dir/demo" --bind "127.0.0.1:$port" >>"$dir/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do
    curl -sf "$base/readyz" >/dev/null 2>&1 && return
    kill -0 "$server" 2>/dev/null || { cat "$dir/server.log"; echo "the server stopped"; exit 1; }
    sleep 1
  done
  echo "not ready after 120 s"; exit 1
}
echo "== serve --demo: migrate and load the demo"
serve
kill "$server"; wait "$server" 2>/dev/null || true; server=""

echo "== distributing as ARCHITECTURE.md lists"
plan="$(python3 - <<'PY'
import re
doc = open("ARCHITECTURE.md").read().split("\n## Distribution keys")[1].split("\n## ")[0]
rows = re.findall(r"^\| `(\w+)` \| (reference|distributed by `(\w+)`) \|$", doc, re.M)
dist = [(t, c) for t, p, c in rows if p != "reference"]
names = ",".join(f"'{t}'" for t, _ in dist)
print(f"""CREATE TEMP TABLE fks AS SELECT conrelid::regclass::text AS tbl, conname,
  pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contype = 'f'
  AND conrelid::regclass::text IN ({names}) AND confrelid::regclass::text IN ({names});""")
print("DO $$ DECLARE r record; BEGIN FOR r IN SELECT * FROM fks LOOP "
      "EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.tbl, r.conname); END LOOP; END $$;")
for t, p, _ in rows:
    if p == "reference":
        print(f"SELECT create_reference_table('{t}');")
for t, c in dist:
    print(f"SELECT create_distributed_table('{t}', '{c}');")
print("DO $$ DECLARE r record; BEGIN FOR r IN SELECT * FROM fks LOOP "
      "EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', r.tbl, r.conname, r.def); END LOOP; END $$;")
PY
)"
printf 'SET client_min_messages = warning;\n%s\n' "$plan" | psql_at "${ports[0]}" -d custodian -f - >/dev/null
psql_at "${ports[0]}" -d custodian -c \
  "SELECT citus_table_type || ': ' || count(*) FROM citus_tables GROUP BY citus_table_type ORDER BY 1"

echo "== serve on the cluster; the contract test against it"
serve
"$venv/bin/st" --config-file .ci/schemathesis.toml run "$base/openapi.json" \
  --checks all --seed 1 --max-examples "${CONTRACT_EXAMPLES:-20}" --workers 2 \
  --generation-allow-x00 false --generation-database none \
  --header "Authorization: Bearer $(cat "$dir/demo/admin.key")" --no-color "$@" || status=$?
echo "== the server's internal errors, by kind"
sed 's/\x1b\[[0-9;]*m//g' "$dir/server.log" | grep ' ERROR ' | sed 's/.*error=//' | sort | uniq -c || true
exit "${status:-0}"
