# Shared shell pieces for scripts/*.sh (sourced, not run): the project venv and how to fill it.

# Cached bytecode matters: without it every test subprocess recompiles sklearn/mlflow/pandas from source
# (10+ s per process). Some shells export PYTHONDONTWRITEBYTECODE; the scripts let Python cache again.
unset PYTHONDONTWRITEBYTECODE

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BAKEHOUSE_VENV:-$REPO_ROOT/.venv}"

if [ -t 1 ]; then C_BOLD=$'\033[1m' C_RED=$'\033[31m' C_GREEN=$'\033[32m' C_YELLOW=$'\033[33m' C_CYAN=$'\033[1;36m' C_OFF=$'\033[0m'
else C_BOLD="" C_RED="" C_GREEN="" C_YELLOW="" C_CYAN="" C_OFF=""; fi
log() { printf '%s==> %s%s\n' "$C_BOLD" "$*" "$C_OFF" >&2; }

# The interpreter a fresh venv is made from: pyenv's 3.11 on our machines, else python3 (>=3.11).
base_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  for p in /root/.pyenv/versions/3.11.7/bin/python3 python3.11 python3.12 python3.13 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$p"; return
    fi
  done
  echo "no Python >= 3.11 found (set PYTHON=/path/to/python3)" >&2; return 1
}

# ensure_venv EXTRAS: create $VENV if needed and install the package editable with those extras,
# with uv (seconds) and pip as the fallback. BAKEHOUSE_SKIP_INSTALL=1 uses an existing venv as it is.
ensure_venv() {
  local extras="$1" spec
  if [ "${BAKEHOUSE_SKIP_INSTALL:-0}" = 1 ] && [ -x "$VENV/bin/python" ]; then
    log "using $VENV as it is (BAKEHOUSE_SKIP_INSTALL=1)"
    return 0
  fi
  spec="-e $REPO_ROOT"
  [ -n "$extras" ] && spec="-e $REPO_ROOT[$extras]"
  # A CPU build of torch lies on disk on our machines: resolving against it avoids a multi-GB CUDA download
  # for the extras that need torch (pytorch, keras backend, transformers, lightning).
  local torch_wheel
  torch_wheel="$(ls /opt/wheels/torch-*-cp311-*.whl 2>/dev/null | head -1 || true)"
  [ -n "$torch_wheel" ] && [ -n "$extras" ] && spec="$torch_wheel $spec"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$(base_python)" -m venv "$VENV"
  fi
  local uv=""
  if [ -x "$VENV/bin/uv" ]; then
    uv="$VENV/bin/uv"
  elif "$VENV/bin/python" -m pip --version >/dev/null 2>&1 && \
       "$VENV/bin/python" -m pip install -q --disable-pip-version-check uv >&2; then
    uv="$VENV/bin/uv"
  elif command -v uv >/dev/null 2>&1; then
    uv="$(command -v uv)"
  fi
  log "installing bakehouse${extras:+[$extras]} into $VENV"
  # shellcheck disable=SC2086
  if [ -n "$uv" ] && "$uv" pip install -q -p "$VENV/bin/python" $spec >&2; then
    return 0
  fi
  log "uv unavailable or failed; falling back to pip"
  "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip -q >&2
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check $spec >&2
}

# ensure_mlflow2_venv: a venv with MLflow 2.22.5 (the 2.x release the migration tests write fixtures with;
# SQLAlchemy 2.1 removed a class it imports). Prints its python. Reinstalled only when the pins change.
MLFLOW2_PINS="mlflow==2.22.5 sqlalchemy<2.1"
ensure_mlflow2_venv() {
  local venv="${BAKEHOUSE_MLFLOW2_VENV:-$REPO_ROOT/.venv-mlflow2}"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.complete" 2>/dev/null)" = "$MLFLOW2_PINS" ]; then
    echo "$venv/bin/python"; return 0
  fi
  log "installing $MLFLOW2_PINS into $venv"
  rm -rf "$venv"
  "$VENV/bin/uv" venv -q -p "$(base_python)" "$venv" >&2 || return 1
  # shellcheck disable=SC2086
  "$VENV/bin/uv" pip install -q -p "$venv/bin/python" $MLFLOW2_PINS >&2 || return 1
  printf '%s' "$MLFLOW2_PINS" > "$venv/.complete"
  echo "$venv/bin/python"
}

APT_UPDATED=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then log "not root: cannot apt-get install $*"; return 1; fi
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -q >&2
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL SECONDS: poll until the URL answers (any HTTP status).
wait_http() {
  local url="$1" deadline=$((SECONDS + ${2:-30}))
  while [ $SECONDS -lt $deadline ]; do
    if "$VENV/bin/python" - "$url" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
    sleep 0.2
  done
  return 1
}
