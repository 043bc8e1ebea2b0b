#!/bin/sh
# Runs COMMAND ARGS... when COMMAND is installed; otherwise fails the test and
# says what to run (ctest itself would only say "Could not find executable").
#   need.sh WHAT COMMAND [ARGS...]
what=$1
shift
if ! command -v "$1" >/dev/null 2>&1; then
  echo "FAIL: $what ($1) is missing: run scripts/install_deps.sh" >&2
  exit 1
fi
exec "$@"
