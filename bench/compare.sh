#!/usr/bin/env bash
# Custodian side by side with the SQLAlchemy peer and pgbench, in one run
# against one PostgreSQL, alternating systems; prints a table of medians and
# ratios. Every JSON line is kept in the --out file.
#
#   bash bench/compare.sh [--rounds 2] [--scale 1] [--workloads "W1 W2 W3 W4"]
#                         [--out bench-results.jsonl]
#
# --workloads runs only the listed workloads (W4 includes W4-verify); pgbench
# runs only for W1 and W3, the peer and custodian for each one listed.
#
# Needs: PostgreSQL on 127.0.0.1:5432 reachable as a superuser through
# ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres), pgbench and
# psql, python3 with venv, cargo. Creates the role and database `bench`
# (password bench, CREATEDB) if missing, installs the peer into a throwaway
# virtualenv, builds custodian in release mode. TLS is off on both sides
# (sslmode=disable), as the peer's figures are.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER="${PEER_DIR:-$ROOT/../shared/peers/sqlalchemy}"
ADMIN_URL="${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ROUNDS=2
SCALE=1
OUT="bench-results.jsonl"
WORKLOADS="W1 W2 W3 W4"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --scale) SCALE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --workloads) WORKLOADS="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--rounds N] [--scale S] [--workloads \"W1 W2 W3 W4\"] [--out FILE]" >&2; exit 2 ;;
  esac
done
for w in $WORKLOADS; do
  case "$w" in W1|W2|W3|W4) ;; *) echo "unknown workload: $w (W1 W2 W3 W4)" >&2; exit 2 ;; esac
done
[ -f "$PEER/peer.py" ] || { echo "peer not found at $PEER (set PEER_DIR)" >&2; exit 2; }
for tool in psql pgbench python3 cargo; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

note() { echo "# $*" >&2; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

note "database: role and database bench"
psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -qAt <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench') THEN
    CREATE ROLE bench LOGIN PASSWORD 'bench' CREATEDB;
  ELSE
    ALTER ROLE bench LOGIN PASSWORD 'bench' CREATEDB;
  END IF;
END $$;
SQL
if [ "$(psql "$ADMIN_URL" -qAtc "SELECT 1 FROM pg_database WHERE datname = 'bench'")" != 1 ]; then
  psql "$ADMIN_URL" -qc "CREATE DATABASE bench OWNER bench"
fi
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=bench PGPASSWORD=bench PGDATABASE=bench PGSSLMODE=disable
DSN="postgresql://bench:bench@127.0.0.1:5432/bench?sslmode=disable"

note "peer: a throwaway virtualenv"
python3 -m venv "$TMP/venv"
"$TMP/venv/bin/pip" install -q -r "$PEER/requirements.txt"
PY="$TMP/venv/bin/python"

note "custodian: release build"
cargo build -q --release -p custodian-cli --manifest-path "$ROOT/Cargo.toml"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/custodian"

: > "$OUT"
# tag SYSTEM_OVERRIDE ROUND: stamp each JSON line on stdin with its round.
tag() { "$PY" -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        d = json.loads(line); d["round"] = int(sys.argv[1]); print(json.dumps(d), flush=True)
' "$1"; }

run_system() { # system round
  case "$1" in
    custodian)
      for w in $WORKLOADS; do
        "$BIN" --database-url "$DSN" bench --workload "$w" --scale "$SCALE" --json | tag "$2"
      done ;;
    custodian-http)
      # W4 has no HTTP route of its own.
      for w in $WORKLOADS; do
        [ "$w" = W4 ] && continue
        "$BIN" --database-url "$DSN" bench --workload "$w" --via http --scale "$SCALE" --json | tag "$2"
      done ;;
    peer)
      for w in $WORKLOADS; do
        "$PY" "$PEER/peer.py" --dsn "$DSN" --workload "$w" --scale "$SCALE" 2>"$TMP/peer.err" | tag "$2" \
          || { cat "$TMP/peer.err" >&2; exit 1; }
      done ;;
    pgbench)
      # The limit exists for W1 and W3 only.
      for w in $WORKLOADS; do
        case "$w" in W1|W3) ;; *) continue ;; esac
        PYTHON="$PY" bash "$PEER/pgbench/limit.sh" --scale "$SCALE" "$w" 2>"$TMP/pgbench.err" | tag "$2" \
          || { cat "$TMP/pgbench.err" >&2; exit 1; }
      done ;;
  esac
}

SYSTEMS=(custodian peer custodian-http)
case " $WORKLOADS " in *" W1 "*|*" W3 "*) SYSTEMS+=(pgbench) ;; esac
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round so no system always runs first or last.
  n=${#SYSTEMS[@]}
  for k in $(seq 0 $((n - 1))); do
    sys="${SYSTEMS[$(( (k + round - 1) % n ))]}"
    note "round $round: $sys"
    run_system "$sys" "$round" | tee -a "$OUT"
  done
done

"$PY" - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = [r for r in rows if r.get("check") != "ok"]
by = {}
for r in rows:
    by.setdefault((r["workload"], r["system"]), []).append(r)
def med(w, s, k):
    v = [r[k] for r in by.get((w, s), []) if r.get("check") == "ok" and r.get(k) is not None]
    return statistics.median(v) if v else None
def fmt(x, d=1):
    return "-" if x is None else f"{x:,.{d}f}"
def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}x"
systems = ["custodian", "custodian-http", "sqlalchemy", "pgbench"]
rounds = max(r["round"] for r in rows)
print(f"\nMedians over {rounds} round(s); ops/s, then p50 / p99 ms.\n")
print("| workload | " + " | ".join(systems) + " | custodian / peer | custodian / pgbench | http / peer | server peak RSS |")
print("|---" * (len(systems) + 5) + "|")
for w in ["W1", "W2", "W3", "W4", "W4-verify"]:
    if not any(k[0] == w for k in by):
        continue
    cells = []
    for s in systems:
        o = med(w, s, "ops_per_s")
        cells.append("-" if o is None else f"{fmt(o)} — {fmt(med(w, s, 'p50_ms'), 2)} / {fmt(med(w, s, 'p99_ms'), 2)}")
    c, h, p, g = (med(w, s, "ops_per_s") for s in systems)
    rss = med(w, "custodian-http", "server_peak_rss_mib")
    print(f"| {w} | " + " | ".join(cells) + f" | {ratio(c, p)} | {ratio(c, g)} | {ratio(h, p)} | {fmt(rss)} MiB |".replace("- MiB", "-"))
if any(k[0] == "W2" for k in by):
    print("\nW2 counts save_transcript calls of 500 rows each: rows/s = 500 x ops/s.")
if bad:
    print(f"\n{len(bad)} line(s) with a failed check (not counted):")
    for r in bad:
        print(f"  round {r['round']} {r['system']} {r['workload']}: {r['check']}")
PY
