#!/usr/bin/env bash
# Stop an emulator started by scripts/gcs_up.sh or scripts/azurite_up.sh and delete its directory.
# Usage:  EMULATOR_PID=<pid> EMULATOR_DIR=<dir> bash scripts/emulator_down.sh
set -uo pipefail
if [ -n "${EMULATOR_PID:-}" ]; then
  kill "$EMULATOR_PID" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$EMULATOR_PID" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$EMULATOR_PID" 2>/dev/null
fi
[ -n "${EMULATOR_DIR:-}" ] && rm -rf "$EMULATOR_DIR"
exit 0
