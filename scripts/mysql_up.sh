#!/usr/bin/env bash
# Start a throwaway MariaDB (MySQL protocol) on 127.0.0.1 with its data in a temp dir (tests only).
# Usage:  eval "$(bash scripts/mysql_up.sh)"  -> exports BAKEHOUSE_TEST_MYSQL_URI, MY_TEST_DIR, MY_TEST_PID
# Stop with:  bash scripts/mysql_down.sh      (reads MY_TEST_DIR / MY_TEST_PID)
# Installs the Debian package mariadb-server when it is missing. Only `export` lines go to stdout.
set -euo pipefail

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "mysql_up: MariaDB not found, installing it with apt-get" >&2
  if [ "$(id -u)" != 0 ]; then echo "mysql_up: need root to install mariadb-server" >&2; exit 1; fi
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >&2
fi
MARIADBD="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
PYTHON="${PYTHON:-python3}"
MYPORT="${MYPORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
MYDIR="$(mktemp -d /tmp/bakehouse-mysql.XXXXXX)"
MYUSER="$(id -un)"
if [ "$MYUSER" = root ]; then chown mysql:mysql "$MYDIR"; MYUSER=mysql; fi
if ! mariadb-install-db --no-defaults --user="$MYUSER" --datadir="$MYDIR/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$MYDIR/install.log" 2>&1; then
  cat "$MYDIR/install.log" >&2; exit 1
fi
"$MARIADBD" --no-defaults --user="$MYUSER" --datadir="$MYDIR/data" --port="$MYPORT" --bind-address=127.0.0.1 \
  --socket="$MYDIR/mysqld.sock" --pid-file="$MYDIR/mysqld.pid" --log-error="$MYDIR/error.log" \
  --skip-name-resolve --innodb-flush-log-at-trx-commit=0 >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 120); do
  mariadb-admin --no-defaults -h127.0.0.1 -P"$MYPORT" -uroot ping >/dev/null 2>&1 && break
  if ! kill -0 "$PID" 2>/dev/null; then cat "$MYDIR/error.log" >&2; exit 1; fi
  sleep 0.25
done
mariadb --no-defaults -h127.0.0.1 -P"$MYPORT" -uroot -e "CREATE DATABASE bakehouse_test CHARACTER SET utf8mb4" >&2
echo "export MY_TEST_DIR=$MYDIR MY_TEST_PID=$PID"
echo "export BAKEHOUSE_TEST_MYSQL_URI=mysql+pymysql://root@127.0.0.1:$MYPORT/bakehouse_test"
