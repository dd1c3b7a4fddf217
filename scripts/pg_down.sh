#!/usr/bin/env bash
# Stop the PostgreSQL started by pg_up.sh and remove its data (PG_TEST_DIR / PG_TEST_BIN from pg_up's output).
set -euo pipefail
: "${PG_TEST_DIR:?PG_TEST_DIR not set (eval the output of pg_up.sh first)}"
: "${PG_TEST_BIN:?PG_TEST_BIN not set}"
RUN=(); [ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
if [ -d "$PG_TEST_DIR/data" ]; then
  "${RUN[@]}" "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$PG_TEST_DIR"
