#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1 with its data in a temp dir (fsync off: tests only).
# Usage:  eval "$(bash scripts/pg_up.sh)"   -> exports BAKEHOUSE_TEST_POSTGRES_URI, PG_TEST_DIR, PG_TEST_BIN
# Stop with:  bash scripts/pg_down.sh      (reads PG_TEST_DIR / PG_TEST_BIN)
# PGPORT picks the port (default: a free one). Diagnostics go to stderr; only `export` lines go to stdout.
set -euo pipefail

find_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(find_pg_bin)" ]; then
  echo "pg_up: PostgreSQL not found, installing it with apt-get" >&2
  if [ "$(id -u)" != 0 ]; then echo "pg_up: need root to install postgresql" >&2; exit 1; fi
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
fi
PGBIN="$(find_pg_bin)"
PYTHON="${PYTHON:-python3}"
PGPORT="${PGPORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
PGDIR="$(mktemp -d /tmp/bakehouse-pg.XXXXXX)"
chmod 755 "$PGDIR"
RUN=()
if [ "$(id -u)" = 0 ]; then          # initdb/postgres refuse to run as root
  chown postgres:postgres "$PGDIR"
  RUN=(runuser -u postgres --)
fi
if ! "${RUN[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U test --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$PGDIR/initdb.log" 2>&1; then
  cat "$PGDIR/initdb.log" >&2; exit 1
fi
if ! "${RUN[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null; then
  cat "$PGDIR/server.log" >&2; exit 1
fi
"${RUN[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U test bakehouse_test
echo "export PG_TEST_DIR=$PGDIR PG_TEST_BIN=$PGBIN PG_TEST_PORT=$PGPORT"
echo "export BAKEHOUSE_TEST_POSTGRES_URI=postgresql+psycopg://test@127.0.0.1:$PGPORT/bakehouse_test"
