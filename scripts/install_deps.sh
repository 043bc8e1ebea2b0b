#!/usr/bin/env bash
# Installs what tunefleet needs on Debian bookworm, as root. Idempotent: when
# everything is present it installs nothing and asks no registry.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libabsl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libsqlite3-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtorch-dev libopenblas0-pthread   # without openblas, libtorch falls back to reference BLAS (~5x slower)
  libgloo-dev                          # ProcessGroupGloo.hpp (in libtorch-dev) includes gloo's headers
  libpng-dev
  nodejs npm                           # the tokenizer's reference implementation runs on node at test time
)

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm from elsewhere (nvm, a newer distribution) serve as well.
  if [[ $p == nodejs ]] && command -v node >/dev/null; then continue; fi
  if [[ $p == npm ]] && command -v npm >/dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "install_deps: need root to install packages (run as root or with sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages for tests, from the committed lock files; only when absent or stale.
root=$(cd "$(dirname "$0")/.." && pwd)
for dir in "$root"/tests/reference/*/; do
  [[ -f $dir/package-lock.json ]] || continue
  stamp=$dir/node_modules/.package-lock.json
  if [[ ! -f $stamp || $dir/package-lock.json -nt $stamp ]]; then
    echo "install_deps: npm ci in ${dir#"$root"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
