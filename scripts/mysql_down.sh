#!/usr/bin/env bash
# Stop the MariaDB started by scripts/mysql_up.sh and delete its data.
set -uo pipefail
if [ -n "${MY_TEST_PID:-}" ]; then
  kill "$MY_TEST_PID" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$MY_TEST_PID" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$MY_TEST_PID" 2>/dev/null
fi
[ -n "${MY_TEST_DIR:-}" ] && rm -rf "$MY_TEST_DIR"
exit 0
