#!/usr/bin/env bash
# Installs what tunefleet needs on Debian bookworm, as root. Idempotent: when
# everything is present it installs nothing and asks no registry.
#   TUNEFLEET_DEPS=image  only what a container image's build needs (the
#                         daemons, the CLI, and for the worker image the means
#                         to fetch a CUDA libtorch): deploy/docker/*.Dockerfile
#   --check               install nothing; list what is missing, exit 1 if any
set -euo pipefail
profile=${TUNEFLEET_DEPS:-all}
check=false
[[ ${1:-} == --check ]] && check=true

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libabsl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libsqlite3-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libpng-dev
  curl unzip                           # deploy/docker/fetch_libtorch.sh (and its test)
)
case $profile in
  image) ;;
  all)
    packages+=(
      libgtest-dev libgmock-dev libbenchmark-dev
      libtorch-dev libopenblas0-pthread   # without openblas, libtorch falls back to reference BLAS (~5x slower)
      libgloo-dev                          # ProcessGroupGloo.hpp (in libtorch-dev) includes gloo's headers
      nodejs npm                           # the tokenizer's reference and tests/deploy's checks run on node
      kubernetes-client                    # kubectl kustomize renders deploy/kubernetes (tests/deploy)
      zip                                  # tests/deploy packs a libtorch archive for fetch_libtorch.sh
    ) ;;
  *) echo "install_deps: TUNEFLEET_DEPS must be all or image, not $profile" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm from elsewhere (nvm, a newer distribution) serve as well.
  if [[ $p == nodejs ]] && command -v node >/dev/null; then continue; fi
  if [[ $p == npm ]] && command -v npm >/dev/null; then continue; fi
  # Any kubectl with `kubectl kustomize` serves (Debian's is 1.20).
  if [[ $p == kubernetes-client ]] && command -v kubectl >/dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

root=$(cd "$(dirname "$0")/.." && pwd)
# promtool (tests/deploy: check and unit-test the alert rules) comes in
# Debian's prometheus package, which would also install and start a Prometheus
# server: only promtool is taken out of it, into /usr/local/bin.
need_promtool=false
if [[ $profile == all ]] && ! command -v promtool >/dev/null; then need_promtool=true; fi
npm_dirs=()
if [[ $profile == all ]]; then
  for dir in "$root"/tests/reference/*/ "$root"/tests/deploy/; do
    [[ -f $dir/package-lock.json ]] || continue
    stamp=$dir/node_modules/.package-lock.json
    if [[ ! -f $stamp || $dir/package-lock.json -nt $stamp ]]; then npm_dirs+=("$dir"); fi
  done
fi

if $check; then
  status=0
  if ((${#missing[@]})); then echo "install_deps: missing ${missing[*]}"; status=1; fi
  if $need_promtool; then echo "install_deps: missing promtool"; status=1; fi
  for dir in "${npm_dirs[@]}"; do echo "install_deps: npm ci needed in ${dir#"$root"/}"; status=1; done
  ((status)) || echo "install_deps: everything for profile $profile is installed"
  exit $status
fi

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

if $need_promtool; then
  echo "install_deps: installing promtool from Debian's prometheus package"
  if [[ $(id -u) -ne 0 ]]; then
    echo "install_deps: need root to install promtool (run as root or with sudo)" >&2
    exit 1
  fi
  work=$(mktemp -d)
  (cd "$work" && { apt-get download prometheus 2>/dev/null || { apt-get update -qq && apt-get download prometheus; }; })
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  install -m 0755 "$work/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$work"
fi

# npm packages for tests, from the committed lock files; only when absent or stale.
for dir in "${npm_dirs[@]}"; do
  echo "install_deps: npm ci in ${dir#"$root"/}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done
