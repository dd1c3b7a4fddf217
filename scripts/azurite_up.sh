#!/usr/bin/env bash
# Start Azurite's Blob service (the Azure Storage emulator, from npm) on 127.0.0.1, blobs in memory. It is
# installed once into a cache directory outside the repository (AZURITE_HOME, default
# ~/.cache/bakehouse-test/azurite; `npm install azurite@3.35.0`). Clients reach it the way azure-storage-blob
# expects: an AZURE_STORAGE_CONNECTION_STRING with the emulator's well-known development account.
# Usage:  eval "$(PYTHON=.venv/bin/python bash scripts/azurite_up.sh)"
#   -> exports BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING, AZURITE_TEST_PID, AZURITE_TEST_DIR
# Stop with:  EMULATOR_PID=$AZURITE_TEST_PID EMULATOR_DIR=$AZURITE_TEST_DIR bash scripts/emulator_down.sh
# AZURITE_PORT picks the port (default: a free one). Diagnostics go to stderr; only `export` lines to stdout.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
AZURITE_HOME="${AZURITE_HOME:-$HOME/.cache/bakehouse-test/azurite}"
AZURITE_VERSION=3.35.0  # pinned: the version the suite was checked against
BIN="$AZURITE_HOME/node_modules/.bin/azurite-blob"
INSTALLED="$(node -p 'require(process.argv[1]).version' "$AZURITE_HOME/node_modules/azurite/package.json" 2>/dev/null || true)"
if [ ! -x "$BIN" ] || [ "$INSTALLED" != "$AZURITE_VERSION" ]; then
  command -v npm >/dev/null || { echo "azurite_up: npm is not installed (apt-get install npm)" >&2; exit 1; }
  echo "azurite_up: installing azurite@$AZURITE_VERSION into $AZURITE_HOME" >&2
  mkdir -p "$AZURITE_HOME"
  [ -f "$AZURITE_HOME/package.json" ] || echo '{"private": true}' >"$AZURITE_HOME/package.json"
  (cd "$AZURITE_HOME" && npm install --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >&2)
fi
PORT="${AZURITE_PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
DIR="$(mktemp -d /tmp/bakehouse-azurite.XXXXXX)"
"$BIN" --blobHost 127.0.0.1 --blobPort "$PORT" --inMemoryPersistence --silent \
  --skipApiVersionCheck --loose --disableTelemetry >"$DIR/server.log" 2>&1 </dev/null &
PID=$!
if ! "$PYTHON" "$(dirname "$0")/wait_ready.py" "http://127.0.0.1:$PORT/devstoreaccount1?comp=list" "$PID" 60; then
  echo "azurite_up: Azurite did not answer on port $PORT:" >&2; cat "$DIR/server.log" >&2
  kill "$PID" 2>/dev/null || true; rm -rf "$DIR"; exit 1
fi
# Azurite's published development account and key (the same on every machine; not a secret).
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
echo "export AZURITE_TEST_PID=$PID AZURITE_TEST_DIR=$DIR"
echo "export BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$PORT/devstoreaccount1;'"
