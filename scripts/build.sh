#!/usr/bin/env bash
# Configures (once) and builds tunefleet into build/ (or $TUNEFLEET_BUILD_DIR).
# Extra arguments go to CMake's configure step, e.g. -DTUNEFLEET_SANITIZE=address.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TUNEFLEET_BUILD_DIR:-$root/build}
if [[ ! -f $build/build.ninja || $# -gt 0 ]]; then
  cmake -S "$root" -B "$build" -G Ninja "$@"
fi
cmake --build "$build" -j "$(nproc)"
