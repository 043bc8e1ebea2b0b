#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs CTest (labels
# unit, integration, e2e). Its last lines are CTest's summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root"/scripts/install_deps.sh
"$root"/scripts/build.sh "$@"
cd "${TUNEFLEET_BUILD_DIR:-$root/build}"
exec ctest --output-on-failure --timeout 900 -j "$(nproc)"
