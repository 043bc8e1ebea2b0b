#!/usr/bin/env bash
# Configures (once) and builds tunefleet into build/ (or $TUNEFLEET_BUILD_DIR).
# Extra arguments go to CMake's configure step, e.g. -DTUNEFLEET_SANITIZE=address.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TUNEFLEET_BUILD_DIR:-$root/build}
# What the configure step needs, each said in one line rather than a CMake
# error: the tools, and the virtualenv with the pinned torch (libtorch).
for tool in cmake ninja g++ protoc; do
  command -v "$tool" >/dev/null || { echo "build: $tool is missing: run scripts/install_deps.sh" >&2; exit 1; }
done
if [[ " $* " != *" -DTUNEFLEET_BUILD_TRAINER=OFF "* && " $* " != *" -DTUNEFLEET_TORCH_DIR="* ]]; then
  missing=$("$root"/scripts/install_deps.sh --check) ||
    { echo "build: $(head -n 1 <<<"$missing"): run scripts/install_deps.sh" >&2; exit 1; }
fi
if [[ ! -f $build/build.ninja || $# -gt 0 ]]; then
  mkdir -p "$build"
  cmake -S "$root" -B "$build" -G Ninja "$@" >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; echo "build: configuring failed (log above, in $build/configure.log)" >&2; exit 1; }
  grep -E "^-- tunefleet:" "$build/configure.log" || true
fi
cmake --build "$build" -j "$(nproc)"
