#!/usr/bin/env bash
# Quickstart: install Bakehouse into .venv, train the iris example on the embedded default store
# (./bakehouse.db), list the run, give the new model version the alias `champion`, serve
# models:/iris@champion and send one prediction, then open the UI.
#   --no-ui (or BAKEHOUSE_QUICKSTART_NO_UI=1)  stop after the prediction
#   BAKEHOUSE_QUICKSTART_DIR=DIR               where the data goes (default: the repository root)
#   BAKEHOUSE_QUICKSTART_SKIP_INSTALL=1        use the existing venv as is
#   BAKEHOUSE_QUICKSTART_PORT=N                UI port (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

NO_UI="${BAKEHOUSE_QUICKSTART_NO_UI:-0}"
for arg in "$@"; do
  case "$arg" in
    --no-ui) NO_UI=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

step() { printf '\n%s[%s] %s%s\n' "$C_CYAN" "$1" "$2" "$C_OFF"; }
skip() { printf '%s  skipped: %s%s\n' "$C_YELLOW" "$*" "$C_OFF"; }

step 1 "Install Bakehouse into $VENV"
if [ "${BAKEHOUSE_QUICKSTART_SKIP_INSTALL:-0}" = 1 ] && [ -x "$VENV/bin/bakehouse" ]; then
  echo "  using the existing venv"
else
  ensure_venv ""
fi
PY="$VENV/bin/python"
BH="$VENV/bin/bakehouse"
"$BH" --version

WORKDIR="${BAKEHOUSE_QUICKSTART_DIR:-$REPO_ROOT}"
mkdir -p "$WORKDIR"
cd "$WORKDIR"
# The embedded default store: ./bakehouse.db and ./bakehouse-artifacts in $WORKDIR.
unset BAKEHOUSE_TRACKING_URI MLFLOW_TRACKING_URI BAKEHOUSE_REGISTRY_URI MLFLOW_REGISTRY_URI || true

step 2 "Train the iris example (examples/iris/train.py)"
TRAIN_LOG="$(mktemp)"
"$PY" "$REPO_ROOT/examples/iris/train.py" | tee "$TRAIN_LOG"
RUN_ID="$(sed -n 's/^RUN_ID=//p' "$TRAIN_LOG" | tail -1)"
VERSION="$(sed -n 's/^MODEL_VERSION=//p' "$TRAIN_LOG" | tail -1)"
rm -f "$TRAIN_LOG"
[ -n "$RUN_ID" ] || { echo "training did not report a run id" >&2; exit 1; }
echo "  the run is stored in $WORKDIR/bakehouse.db (artifacts under $WORKDIR/bakehouse-artifacts)"

step 3 "List the runs: bakehouse runs list --experiment-name iris"
if "$BH" runs --help >/dev/null 2>&1; then
  "$BH" runs list --experiment-name iris --max-results 5
else
  skip "the 'runs' command is not available yet"
fi

SERVE_PID=""
SERVE_LOG=""
cleanup() {
  if [ -n "$SERVE_PID" ]; then kill -- -"$SERVE_PID" 2>/dev/null || kill "$SERVE_PID" 2>/dev/null || true; fi
  if [ -n "$SERVE_LOG" ]; then rm -f "$SERVE_LOG"; fi
}
trap cleanup EXIT

# `bakehouse models set-alias` when the registry CLI is there, else the Python API.
set_alias() {
  if "$BH" models set-alias --help >/dev/null 2>&1; then
    echo "  \$ bakehouse models set-alias iris champion $1"
    "$BH" models set-alias iris champion "$1" || return 1
  else
    "$PY" - "$1" <<'PY' || return 1
import sys
from bakehouse.client.client import Client
Client().set_registered_model_alias("iris", "champion", sys.argv[1])
PY
  fi
  "$PY" - <<'PY'
from bakehouse.client.client import Client
mv = Client().get_model_version_by_alias("iris", "champion")
print(f"  models:/iris@champion -> version {mv.version} (run {mv.run_id})")
PY
}

SERVED=0
step 4 "Set the alias champion on iris version ${VERSION:-?}"
if [ -z "$VERSION" ]; then
  skip "the model was not registered (model logging / registry not available yet)"
elif set_alias "$VERSION"; then
  step 5 "Serve models:/iris@champion and send one prediction"
  if "$BH" models serve --help >/dev/null 2>&1; then
    PORT="$(free_port)"
    SERVE_LOG="$(mktemp /tmp/bakehouse-quickstart-serve.XXXXXX.log)"  # shown on failure, removed after
    setsid "$BH" models serve -m "models:/iris@champion" --host 127.0.0.1 -p "$PORT" >"$SERVE_LOG" 2>&1 &
    SERVE_PID=$!
    if wait_http "http://127.0.0.1:$PORT/ping" 120; then
      BODY='{"dataframe_split": {"columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"], "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}'
      echo "  POST http://127.0.0.1:$PORT/invocations $BODY"
      "$PY" - "http://127.0.0.1:$PORT/invocations" "$BODY" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=30) as resp:
    print("  ->", resp.status, resp.read().decode())
PY
      SERVED=1
    else
      echo "  the scoring server did not come up; its log:" >&2; tail -30 "$SERVE_LOG" >&2
      exit 1
    fi
    cleanup; SERVE_PID=""; SERVE_LOG=""
  else
    skip "'bakehouse models serve' is not available yet"
  fi
else
  skip "the registry is not available yet"
fi

NEXT="next: source $VENV/bin/activate (puts bakehouse on the PATH), then README's commands: bakehouse runs list --experiment-name iris, ..."
if [ "$NO_UI" = 1 ]; then
  step 6 "Done (UI skipped: --no-ui)"
  echo "  $NEXT"
  echo "QUICKSTART_OK run=$RUN_ID version=${VERSION:-none} served=$SERVED"
  exit 0
fi
step 6 "Start the UI"
if "$BH" ui --help >/dev/null 2>&1; then
  UI_PORT="${BAKEHOUSE_QUICKSTART_PORT:-5000}"
  echo "  open http://127.0.0.1:$UI_PORT  (Ctrl-C to stop)"
  echo "  $NEXT"
  trap - EXIT
  exec "$BH" ui --host 127.0.0.1 --port "$UI_PORT"
else
  skip "'bakehouse ui' is not available yet"
  echo "QUICKSTART_OK run=$RUN_ID version=${VERSION:-none} served=$SERVED"
fi
