#!/usr/bin/env bash
# The whole test suite on a fresh machine: venv + deps, the static checks (scripts/check.sh: ruff + mypy),
# Debian packages, a throwaway PostgreSQL, a moto S3 server and the GCS and Azure emulators (fake-gcs-server,
# Azurite) on 127.0.0.1, then pytest over tests/. Under CI=true an emulator that fails to start fails the run.
# Arguments replace the default target `tests` (e.g. `bash scripts/test.sh tests/integration -k cli -x`);
# such a targeted run skips the static checks unless BAKEHOUSE_TEST_CHECKS=1.
# Env: BAKEHOUSE_TEST_WORKERS (xdist workers, default 2; 0 = no xdist), BAKEHOUSE_TEST_TIMEOUT (per test, s).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
START=$SECONDS

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
  apt_install chromium || log "WARNING: chromium could not be installed; browser tests will skip"
fi
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  apt_install postgresql || log "WARNING: postgresql could not be installed; postgres tests will skip"
fi
# The deployment tests put Caddy in front of the servers and check the compose file with docker-compose
# (`config` only: no Docker engine is needed). Under CI=true the tests fail if these are missing.
for tool in caddy docker-compose; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt_install "$tool" || log "WARNING: $tool could not be installed; the deployment tests will skip"
  fi
done
export PATH="$VENV/bin:$PATH"

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
    log "WARNING: PostgreSQL did not start (see above); the postgres fixture will try again and report"
  fi
fi

log "starting MariaDB (MySQL) for the migration chain and the store contract suite"
if MY_ENV="$(PYTHON="$VENV/bin/python" bash scripts/mysql_up.sh)"; then
  eval "$MY_ENV"
  export BAKEHOUSE_TEST_MYSQL_URI
  log "MariaDB: $BAKEHOUSE_TEST_MYSQL_URI"
else
  log "WARNING: MariaDB did not start; the mysql store tests will skip"
fi

MOTO_PORT="$(free_port)"
log "starting moto S3 server on 127.0.0.1:$MOTO_PORT"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$MOTO_LOG" 2>&1 &
MOTO_PID=$!
if wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" 30; then
  export BAKEHOUSE_TEST_S3_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
else
  log "WARNING: moto server did not come up; the s3 fixture will start its own"; cat "$MOTO_LOG" >&2 || true
  kill "$MOTO_PID" 2>/dev/null || true; MOTO_PID=""
fi

# The cloud object-store emulators. Without CI a failed start only warns: the test fixtures try again, and
# report (under CI=true they fail instead of skipping).
emulator_failed() {
  if [ "${CI:-}" = true ]; then log "ERROR: $1 did not start (CI=true: failing the run)"; exit 1; fi
  log "WARNING: $1 did not start; its fixture will try again"
}
log "starting fake-gcs-server (Google Cloud Storage emulator)"
if GCS_ENV="$(PYTHON="$VENV/bin/python" bash scripts/gcs_up.sh)"; then
  eval "$GCS_ENV"; export BAKEHOUSE_TEST_GCS_ENDPOINT; log "fake-gcs-server: $BAKEHOUSE_TEST_GCS_ENDPOINT"
else
  emulator_failed fake-gcs-server
fi
log "starting Azurite (Azure Blob Storage emulator)"
if AZ_ENV="$(PYTHON="$VENV/bin/python" bash scripts/azurite_up.sh)"; then
  eval "$AZ_ENV"; export BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING; log "Azurite: pid $AZURITE_TEST_PID"
else
  emulator_failed Azurite
fi

# ------------------------------------------------------------------------------------------ pytest
ARGS=(-p no:cacheprovider --timeout="${BAKEHOUSE_TEST_TIMEOUT:-300}" --durations=15)
WORKERS="${BAKEHOUSE_TEST_WORKERS:-2}"
if [ "$WORKERS" != 0 ] && "$VENV/bin/python" -c 'import xdist' 2>/dev/null; then
  ARGS+=(-n "$WORKERS")
fi
# No arguments: the whole tests/ tree. Otherwise the arguments choose (paths, -k, -m ...; testpaths = tests).
[ $# -eq 0 ] && set -- tests
log "pytest ${ARGS[*]} $*  (setup took $((SECONDS - START)) s)"
set +e
"$VENV/bin/python" -m pytest "${ARGS[@]}" "$@"
RC=$?
set -e

ELAPSED=$((SECONDS - START))
case $RC in
  0) printf '%sTESTS PASSED%s in %d s\n' "$C_GREEN" "$C_OFF" "$ELAPSED" ;;
  5) printf '%sTESTS FAILED: pytest collected no tests (exit 5)%s\n' "$C_RED" "$C_OFF"; RC=1 ;;
  *) printf '%sTESTS FAILED (pytest exit %d) after %d s%s\n' "$C_RED" "$RC" "$ELAPSED" "$C_OFF" ;;
esac
exit $RC
