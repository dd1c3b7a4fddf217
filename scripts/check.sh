#!/usr/bin/env bash
# The static checks CI runs before the tests: ruff (lint + format) over src, tests and bench, then mypy as
# configured in pyproject.toml ([tool.mypy]). Uses the venv's pinned tools (the `test` extra), so every
# machine checks with the same versions. Exits non-zero on the first checker that finds anything.
#   bash scripts/check.sh          # what scripts/test.sh runs first
#   ruff format src tests bench    # the fix for a format finding (from the venv: .venv/bin/ruff)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

for tool in ruff mypy; do
  if [ ! -x "$VENV/bin/$tool" ]; then
    printf '%sCHECKS FAILED: %s is not installed in %s (pip install -e ".[test]")%s\n' "$C_RED" "$tool" "$VENV" "$C_OFF"
    exit 1
  fi
done

fail() {
  printf '%sCHECKS FAILED: %s%s\n' "$C_RED" "$1" "$C_OFF"
  exit 1
}

START=$SECONDS
log "ruff check src tests bench"
"$VENV/bin/ruff" check --quiet src tests bench || fail "ruff check found problems (above); fix them (ruff check --fix helps)"
log "ruff format --check src tests bench"
"$VENV/bin/ruff" format --check --quiet src tests bench || fail "files need formatting (above): run ruff format src tests bench"
log "mypy (scope and strictness: [tool.mypy] in pyproject.toml)"
"$VENV/bin/mypy" || fail "mypy found type errors (above)"
printf '%sCHECKS PASSED%s in %d s\n' "$C_GREEN" "$C_OFF" "$((SECONDS - START))"
