#!/usr/bin/env bash
# A throwaway PostgreSQL test bed: a primary, a streaming replica made with
# `pg_basebackup -R`, and a PgBouncer in transaction mode in front of each,
# all on free 127.0.0.1 ports under one folder. The replica and
# failover tests start one each; CI runs the server suites through its
# PgBouncer.
#
#   scripts/pg-testbed.sh up DIR [--sync]   start; writes DIR/env and prints it
#   scripts/pg-testbed.sh down DIR          stop everything, remove DIR
#   scripts/pg-testbed.sh ctl DIR ACTION    stop-primary | start-primary |
#       stop-replica | start-replica | promote | pause-replay | resume-replay |
#       psql-primary -- SQL | psql-replica -- SQL
#
# `--sync` makes the replica a synchronous standby and sets
# `synchronous_commit = remote_apply` on the primary: the setting README's
# "Scaling out" names for a failover that loses no acknowledged write.
#
# PostgreSQL refuses to run as root, so as root the servers run as the
# `postgres` OS user and DIR is handed to it. pgbouncer is installed from
# Debian's package when it is missing.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

pg_bin() {
  local bin
  if command -v pg_config >/dev/null 2>&1; then
    bin="$(pg_config --bindir)"
    [ -x "$bin/initdb" ] && { echo "$bin"; return; }
  fi
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries (initdb) found" >&2; exit 1; }
  echo "$bin"
}

# Runs a command as the user that owns the clusters.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() { # port, what
  local port="$1" what="$2"
  for _ in $(seq 1 100); do
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" && return 0
    sleep 0.1
  done
  echo "$what on port $port did not become ready" >&2
  return 1
}

load_env() {
  [ -f "$DIR/env" ] || { echo "$DIR/env not found: is a test bed up in $DIR?" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$DIR/env"
}

ensure_pgbouncer() {
  command -v pgbouncer >/dev/null 2>&1 && return
  [ -x /usr/sbin/pgbouncer ] && return
  # Tests bring several beds up at once: one installs, the others wait for
  # it (two apt-gets at once would fail on dpkg's lock).
  exec 9>"${TMPDIR:-/tmp}/custodian-testbed-install.lock"
  flock 9
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    echo "== installing pgbouncer" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
    # Debian's package may start its own instance on 6432; this bed uses its own.
    (service pgbouncer stop >/dev/null 2>&1 || true)
  fi
  flock -u 9
  exec 9>&-
}

pgbouncer_bin() { command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer; }

up() {
  local sync="$1"
  ensure_pgbouncer
  # Only a new or empty folder: it is made private to the postgres user
  # and removed by `down`.
  if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    echo "$DIR exists and is not empty: name a new or empty folder" >&2
    return 1
  fi
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  chmod 0700 "$DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$DIR"
    as_owner test -w "$DIR" || { echo "the postgres user cannot reach $DIR: use a folder whose parents it can enter (e.g. /tmp/NAME)" >&2; return 1; }
  fi
  local pp rp bp brp
  pp="$(free_port)"; rp="$(free_port)"; bp="$(free_port)"; brp="$(free_port)"

  as_owner "$BIN/initdb" -D "$DIR/primary" -U postgres --auth=trust --no-sync >/dev/null
  cat >>"$DIR/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pp
unix_socket_directories = '$DIR'
wal_level = replica
max_wal_senders = 4
max_connections = 200
hot_standby = on
fsync = off
full_page_writes = off
EOF
  if [ "$sync" = 1 ]; then
    cat >>"$DIR/primary/postgresql.conf" <<EOF
synchronous_standby_names = 'replica'
synchronous_commit = remote_apply
EOF
  fi
  echo "host replication all 127.0.0.1/32 trust" >>"$DIR/primary/pg_hba.conf"
  as_owner "$BIN/pg_ctl" -D "$DIR/primary" -l "$DIR/primary.log" -w start >/dev/null
  wait_ready "$pp" primary

  as_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$pp" -U postgres -D "$DIR/replica" -R -X stream -c fast
  # `-R` wrote primary_conninfo into postgresql.auto.conf, which wins over
  # postgresql.conf: what must win goes there too, after it. The replica
  # names itself so that the primary can wait for it by name.
  cat >>"$DIR/replica/postgresql.auto.conf" <<EOF
port = $rp
primary_conninfo = 'host=127.0.0.1 port=$pp user=postgres application_name=replica'
EOF
  # The base backup copied the primary's synchronous settings: a standby
  # that is promoted must not wait for a standby of its own.
  if [ "$sync" = 1 ]; then
    echo "synchronous_standby_names = ''" >>"$DIR/replica/postgresql.auto.conf"
  fi
  as_owner "$BIN/pg_ctl" -D "$DIR/replica" -l "$DIR/replica.log" -w start >/dev/null
  wait_ready "$rp" replica

  echo '"postgres" ""' >"$DIR/userlist.txt"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR/userlist.txt"
  start_pgbouncer pgbouncer "$bp" "$pp"
  start_pgbouncer pgbouncer-replica "$brp" "$rp"

  cat >"$DIR/env" <<EOF
TESTBED_DIR=$DIR
TESTBED_PG_BIN=$BIN
TESTBED_PRIMARY_PORT=$pp
TESTBED_REPLICA_PORT=$rp
TESTBED_PGBOUNCER_PORT=$bp
TESTBED_REPLICA_PGBOUNCER_PORT=$brp
TESTBED_PRIMARY_URL=postgres://postgres@127.0.0.1:$pp/postgres
TESTBED_REPLICA_URL=postgres://postgres@127.0.0.1:$rp/postgres
TESTBED_PGBOUNCER_URL=postgres://postgres@127.0.0.1:$bp/postgres
TESTBED_REPLICA_PGBOUNCER_URL=postgres://postgres@127.0.0.1:$brp/postgres
EOF
  cat "$DIR/env"
}

start_pgbouncer() { # name, listen port, server port
  local name="$1" port="$2" server="$3"
  cat >"$DIR/$name.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$server

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 40
max_db_connections = 150
ignore_startup_parameters = extra_float_digits,options
# Retry a refused server login after 1s, not 15s: tests take a database
# away and give it back.
server_login_retry = 1
logfile = $DIR/$name.log
pidfile = $DIR/$name.pid
EOF
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR/$name.ini"
  as_owner "$(pgbouncer_bin)" -d "$DIR/$name.ini"
  wait_ready "$port" "$name"
}

down() {
  [ -d "$DIR" ] || return 0
  # Removes only what `up` made: a folder holding a bed's env file, or the
  # empty remains of a bed that failed before writing it.
  if [ ! -f "$DIR/env" ] && [ ! -d "$DIR/primary" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    echo "$DIR holds no test bed; not removing it" >&2
    return 1
  fi
  for bouncer in pgbouncer pgbouncer-replica; do
    if [ -f "$DIR/$bouncer.pid" ]; then
      kill "$(cat "$DIR/$bouncer.pid")" 2>/dev/null || true
    fi
  done
  for node in replica primary; do
    if [ -f "$DIR/$node/postmaster.pid" ]; then
      as_owner "$BIN/pg_ctl" -D "$DIR/$node" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$DIR"
}

psql_on() { # port, sql
  "$BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}

ctl() {
  load_env
  local action="${1:-}"; shift || true
  case "$action" in
    stop-primary) as_owner "$BIN/pg_ctl" -D "$DIR/primary" -m immediate -w stop >/dev/null ;;
    start-primary)
      as_owner "$BIN/pg_ctl" -D "$DIR/primary" -l "$DIR/primary.log" -w start >/dev/null
      wait_ready "$TESTBED_PRIMARY_PORT" primary ;;
    stop-replica) as_owner "$BIN/pg_ctl" -D "$DIR/replica" -m immediate -w stop >/dev/null ;;
    start-replica)
      as_owner "$BIN/pg_ctl" -D "$DIR/replica" -l "$DIR/replica.log" -w start >/dev/null
      wait_ready "$TESTBED_REPLICA_PORT" replica ;;
    promote) as_owner "$BIN/pg_ctl" -D "$DIR/replica" -w promote >/dev/null ;;
    pause-replay) psql_on "$TESTBED_REPLICA_PORT" "SELECT pg_wal_replay_pause()" >/dev/null ;;
    resume-replay) psql_on "$TESTBED_REPLICA_PORT" "SELECT pg_wal_replay_resume()" >/dev/null ;;
    psql-primary|psql-replica)
      [ "${1:-}" = "--" ] && shift
      local port="$TESTBED_PRIMARY_PORT"
      [ "$action" = psql-replica ] && port="$TESTBED_REPLICA_PORT"
      psql_on "$port" "$*" ;;
    *) usage ;;
  esac
}

cmd="${1:-}"; DIR="${2:-}"
[ -n "$cmd" ] && [ -n "$DIR" ] || usage
BIN="$(pg_bin)"
case "$cmd" in
  up)
    sync=0
    [ "${3:-}" = "--sync" ] && sync=1
    [ ! -e "$DIR/env" ] || { echo "$DIR already holds a test bed; run down first" >&2; exit 1; }
    # A bed that fails half way is torn down rather than left running.
    trap 'rc=$?; [ "$rc" = 0 ] || down; exit "$rc"' EXIT
    up "$sync" ;;
  down) down ;;
  ctl) shift 2; ctl "$@" ;;
  *) usage ;;
esac
