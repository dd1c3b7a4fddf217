#!/usr/bin/env bash
# The whole test suite on a fresh machine: venv + deps, the static checks (scripts/check.sh: ruff + mypy),
# Debian packages, a throwaway PostgreSQL, a moto S3 server and the GCS and Azure emulators (fake-gcs-server,
# Azurite) on 127.0.0.1, then pytest over tests/. Under CI=true an emulator that fails to start fails the run.
# Arguments replace the default target `tests` (e.g. `bash scripts/test.sh tests/integration -k cli -x`);
# such a targeted run skips the static checks unless BAKEHOUSE_TEST_CHECKS=1.
# Env: BAKEHOUSE_TEST_WORKERS (xdist workers, default 2; 0 = no xdist), BAKEHOUSE_TEST_TIMEOUT (per test, s).
# CI=true: a real component that does not start (PostgreSQL, MariaDB, the S3 server, fake-gcs-server,
# Azurite, Java for Spark, Chromium, the official mlflow client) fails the run instead of skipping its tests,
# and so does a test that changes the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
START=$SECONDS

CI_MODE=0
case "${CI:-}" in 1 | true | TRUE | True | yes) CI_MODE=1 ;; esac
# missing_component NAME WHAT: under CI=true the run fails here; elsewhere its tests skip (with a warning)
missing_component() {
  if [ "$CI_MODE" = 1 ]; then
    printf '%sTESTS FAILED: CI=true and %s %s; a missing component fails the run%s\n' "$C_RED" "$1" "$2" "$C_OFF"
    exit 1
  fi
  log "WARNING: $1 $2; its tests will skip (under CI=true this fails the run)"
}

# ------------------------------------------------------------------------------------------ install
ensure_venv "test,postgres"

# ------------------------------------------------------------------------------------------ static checks
# Before anything slow: a lint, format or type finding fails the run in seconds.
if [ $# -eq 0 ] || [ "${BAKEHOUSE_TEST_CHECKS:-0}" = 1 ]; then
  bash scripts/check.sh
else
  log "targeted run: static checks skipped (bash scripts/check.sh, or BAKEHOUSE_TEST_CHECKS=1)"
fi
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium || missing_component Chromium "could not be installed"
fi
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  apt_install postgresql || missing_component PostgreSQL "could not be installed"
fi
"$VENV/bin/python" -c 'import mlflow' 2>/dev/null || missing_component "the official mlflow client" "does not import"
# The deployment tests put Caddy in front of the servers and check the compose file with docker-compose
# (`config` only: no Docker engine is needed). Under CI=true a missing one fails the run.
for tool in caddy docker-compose; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt_install "$tool" || missing_component "$tool" "could not be installed"
  fi
done
# Spark (the spark_udf tests, pyspark from the test extra) runs on Debian's Java; Azurite is installed from npm
# by scripts/azurite_up.sh (once, into a cache outside the repository).
if ! command -v java >/dev/null 2>&1; then
  apt_install default-jre-headless || missing_component Java "could not be installed"
fi
if ! command -v npm >/dev/null 2>&1; then
  apt_install npm || missing_component npm "could not be installed (Azurite comes from npm)"
fi
export PATH="$VENV/bin:$PATH"
# MLflow 2.x writes some of the migration tests' fixture stores: a venv of its own, kept between runs.
if MLFLOW2_PY="$(ensure_mlflow2_venv)"; then
  export BAKEHOUSE_TEST_MLFLOW2_PYTHON="$MLFLOW2_PY"
else
  log "WARNING: MLflow 2.x could not be installed; the migration tests will try again and report"
fi

# ------------------------------------------------------------------------------------------ services
PG_TEST_DIR=""
MY_TEST_DIR=""
MY_TEST_PID=""
MOTO_PID=""
GCS_TEST_PID="" GCS_TEST_DIR="" AZURITE_TEST_PID="" AZURITE_TEST_DIR=""
MOTO_LOG="$(mktemp /tmp/bakehouse-moto.XXXXXX.log)"
cleanup() {
  local rc=$?
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
  EMULATOR_PID="$GCS_TEST_PID" EMULATOR_DIR="$GCS_TEST_DIR" bash scripts/emulator_down.sh
  EMULATOR_PID="$AZURITE_TEST_PID" EMULATOR_DIR="$AZURITE_TEST_DIR" bash scripts/emulator_down.sh
  if [ -n "$PG_TEST_DIR" ]; then PG_TEST_DIR="$PG_TEST_DIR" PG_TEST_BIN="$PG_TEST_BIN" bash scripts/pg_down.sh || true; fi
  if [ -n "$MY_TEST_DIR" ]; then MY_TEST_DIR="$MY_TEST_DIR" MY_TEST_PID="$MY_TEST_PID" bash scripts/mysql_down.sh || true; fi
  rm -f "$MOTO_LOG"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  log "starting PostgreSQL"
  if PG_ENV="$(PYTHON="$VENV/bin/python" bash scripts/pg_up.sh)"; then
    eval "$PG_ENV"
    export BAKEHOUSE_TEST_POSTGRES_URI
    log "PostgreSQL: $BAKEHOUSE_TEST_POSTGRES_URI"
  else
    [ "$CI_MODE" = 1 ] && missing_component PostgreSQL "did not start (see above)"
    log "WARNING: PostgreSQL did not start (see above); the postgres fixture will try again and report"
  fi
fi

log "starting MariaDB (MySQL) for the migration chain and the store contract suite"
if MY_ENV="$(PYTHON="$VENV/bin/python" bash scripts/mysql_up.sh)"; then
  eval "$MY_ENV"
  export BAKEHOUSE_TEST_MYSQL_URI
  log "MariaDB: $BAKEHOUSE_TEST_MYSQL_URI"
else
  missing_component MariaDB "did not start (see above)"
fi

MOTO_PORT="$(free_port)"
log "starting moto S3 server on 127.0.0.1:$MOTO_PORT"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$MOTO_LOG" 2>&1 &
MOTO_PID=$!
if wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" 30; then
  export BAKEHOUSE_TEST_S3_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
else
  cat "$MOTO_LOG" >&2 || true
  kill "$MOTO_PID" 2>/dev/null || true; MOTO_PID=""
  [ "$CI_MODE" = 1 ] && missing_component "the S3 server (moto)" "did not come up (its log is above)"
  log "WARNING: moto server did not come up; the s3 fixture will start its own"
fi

# The cloud object-store emulators. Under CI=true one that does not start fails the run; elsewhere the test
# fixtures try again and report.
log "starting fake-gcs-server (Google Cloud Storage emulator)"
if GCS_ENV="$(PYTHON="$VENV/bin/python" bash scripts/gcs_up.sh)"; then
  eval "$GCS_ENV"; export BAKEHOUSE_TEST_GCS_ENDPOINT; log "fake-gcs-server: $BAKEHOUSE_TEST_GCS_ENDPOINT"
else
  [ "$CI_MODE" = 1 ] && missing_component fake-gcs-server "did not start (see above)"
  log "WARNING: fake-gcs-server did not start (see above); the gcs_emulator fixture will try again and report"
fi
log "starting Azurite (Azure Blob Storage emulator)"
if AZ_ENV="$(PYTHON="$VENV/bin/python" bash scripts/azurite_up.sh)"; then
  eval "$AZ_ENV"; export BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING; log "Azurite: pid $AZURITE_TEST_PID"
else
  [ "$CI_MODE" = 1 ] && missing_component Azurite "did not start (see above)"
  log "WARNING: Azurite did not start (see above); the azurite fixture will try again and report"
fi

# ------------------------------------------------------------------------------------------ pytest
# tree_state: each changed or unignored file with a hash of its content, so a file rewritten by a test shows up
# even when it was already modified before the run (nothing, outside a git checkout).
tree_state() {
  command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1 || return 0
  git status --porcelain=v1 --untracked-files=all 2>/dev/null | cut -c4- | while IFS= read -r path; do
    if [ -f "$path" ]; then printf '%s %s\n' "$(git hash-object -- "$path")" "$path"; else printf 'gone %s\n' "$path"; fi
  done
}

ARGS=(-p no:cacheprovider --timeout="${BAKEHOUSE_TEST_TIMEOUT:-300}" --durations=15)
WORKERS="${BAKEHOUSE_TEST_WORKERS:-2}"
if [ "$WORKERS" != 0 ] && "$VENV/bin/python" -c 'import xdist' 2>/dev/null; then
  ARGS+=(-n "$WORKERS" --dist loadgroup)  # tests marked xdist_group share one worker (and its fixtures)
fi
# No arguments: the whole tests/ tree. Otherwise the arguments choose (paths, -k, -m ...; testpaths = tests).
[ $# -eq 0 ] && set -- tests
log "pytest ${ARGS[*]} $*  (setup took $((SECONDS - START)) s)"
TREE_BEFORE="$(tree_state)"
set +e
"$VENV/bin/python" -m pytest "${ARGS[@]}" "$@"
RC=$?
set -e

# The tests must leave the tree as they found it (no rewritten docs/images/*.png, no stray logs).
CHANGED="$(diff <(printf '%s\n' "$TREE_BEFORE") <(tree_state) | sed -n 's/^[<>] [^ ]* /  /p' | sort -u || true)"
if [ -n "$CHANGED" ]; then
  printf '%sThe tests changed the tree:%s\n%s\n' "$C_YELLOW" "$C_OFF" "$CHANGED" >&2
  if [ "$CI_MODE" = 1 ] && [ "$RC" = 0 ]; then
    printf '%sTESTS FAILED: CI=true and the tests changed tracked or unignored files (above)%s\n' "$C_RED" "$C_OFF"
    RC=1
  fi
fi

ELAPSED=$((SECONDS - START))
case $RC in
  0) printf '%sTESTS PASSED%s in %d s\n' "$C_GREEN" "$C_OFF" "$ELAPSED" ;;
  5) printf '%sTESTS FAILED: pytest collected no tests (exit 5)%s\n' "$C_RED" "$C_OFF"; RC=1 ;;
  *) printf '%sTESTS FAILED (pytest exit %d) after %d s%s\n' "$C_RED" "$RC" "$ELAPSED" "$C_OFF" ;;
esac
exit $RC
