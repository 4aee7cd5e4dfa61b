#!/usr/bin/env bash
# Max RSS of `custodian export` at 100,000 and 1,000,000 rows, every format,
# both backends: analytics user_sessions seeded by SQL (a recursive CTE on
# SQLite, generate_series on PostgreSQL) into databases made by
# `custodian init`. Prints one tab-separated line per run:
# backend, rows, format, max RSS (KiB), wall time, exit code, file bytes.
#
#   bash bench/export-memory.sh [BINARY] [WORKDIR]
#
# BINARY defaults to target/debug/custodian. Needs sqlite3, psql, GNU time
# (/usr/bin/time) and PostgreSQL reachable as ADMIN_URL (default
# postgres://postgres:postgres@127.0.0.1:5432/postgres); creates and leaves
# the database `exbench` there and WORKDIR/bench.db (default /tmp/exbench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/target/debug/custodian}"
WORK="${2:-/tmp/exbench}"
ADMIN_URL="${ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
PG="${ADMIN_URL%/*}/exbench"
SL="sqlite://$WORK/bench.db"
mkdir -p "$WORK"
rm -f "$WORK/bench.db"*
psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS exbench" -c "CREATE DATABASE exbench"
"$BIN" init --database-url "$SL" >/dev/null
"$BIN" init --database-url "$PG" >/dev/null

seed_sqlite() { # rows to add
  sqlite3 "$WORK/bench.db" "PRAGMA journal_mode=WAL;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $1)
INSERT INTO analytics_user_sessions (id, created_at, user_id, session_start, session_end,
  session_duration_seconds, pages_viewed, actions_taken)
SELECT randomblob(16), '2026-12-05T22:11:27.617820+00:00',
  printf('bench-user-%06d', abs(random()) % 50000),
  strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', '2026-01-01', printf('+%d seconds', i*30)),
  strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', '2026-01-01', printf('+%d seconds', i*30+900)),
  900, i % 17, '[\"view_dashboard\",\"export_report\"]' FROM n;" >/dev/null
}
seed_pg() { # rows to add
  psql -q "$PG" -c "INSERT INTO analytics_user_sessions (id, created_at, user_id, session_start,
  session_end, session_duration_seconds, pages_viewed, actions_taken)
SELECT gen_random_uuid(), now(), 'bench-user-' || lpad((random()*50000)::int::text, 6, '0'),
  timestamptz '2026-01-01 00:00:00+00' + i * interval '30 seconds',
  timestamptz '2026-01-01 00:15:00+00' + i * interval '30 seconds',
  900, i % 17, '[\"view_dashboard\",\"export_report\"]'::jsonb
FROM generate_series(1, $1) i; ANALYZE analytics_user_sessions;"
}
run() { # backend url rows
  for f in csv ndjson parquet xlsx; do
    local out="$WORK/out-$1-$3.$f" log="$WORK/time-$1-$3-$f.txt" rc=0
    rm -f "$out"
    /usr/bin/time -v "$BIN" export analytics user_sessions --database-url "$2" \
      --format "$f" --out "$out" >/dev/null 2>"$log" || rc=$?
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$3" "$f" \
      "$(awk '/Maximum resident/ {print $NF}' "$log")" \
      "$(awk '/Elapsed/ {print $NF}' "$log")" "$rc" "$(stat -c %s "$out" 2>/dev/null)"
    rm -f "$out"
  done
}
seed_sqlite 100000; seed_pg 100000
run sqlite "$SL" 100000; run postgres "$PG" 100000
seed_sqlite 900000; seed_pg 900000
run sqlite "$SL" 1000000; run postgres "$PG" 1000000
