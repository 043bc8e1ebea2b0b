#!/usr/bin/env bash
# Installs what tunefleet needs on Debian bookworm, as root. Idempotent: when
# everything is present it installs nothing and asks no registry.
#   - Debian's packages (C++ toolchain and libraries, test tools);
#   - the project virtualenv .venv/ (Debian's python3-venv) with exactly the
#     pinned packages of requirements.txt: the torch wheel whose libtorch the
#     trainer builds against (CUDA 13.0 build, runs on CPU without a driver;
#     it carries the CUDA headers and libraries, NCCL's too, so the CUDA
#     trainer builds without a CUDA toolkit), and Python test oracles/tools.
#   TUNEFLEET_DEPS=image  only what a container image's build needs (the
#                         daemons, the CLI, and libtorch's wheels for the
#                         worker's trainer): deploy/docker/*.Dockerfile
#   --check               install nothing; list what is missing, exit 1 if any
set -euo pipefail
profile=${TUNEFLEET_DEPS:-all}
check=false
[[ ${1:-} == --check ]] && check=true
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv  # where CMake looks for it (cmake/TunefleetTorch.cmake)
requirements=$root/requirements.txt

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libabsl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libsqlite3-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libpng-dev
  python3 python3-venv                 # .venv/: the torch wheel (libtorch), test oracles
)
case $profile in
  image) ;;
  all)
    packages+=(
      libgtest-dev libgmock-dev libbenchmark-dev
      kubernetes-client                    # kubectl kustomize renders deploy/kubernetes (tests/deploy)
      xz-utils                             # the reference vocabularies are committed xz-compressed
      clang libclang-rt-14-dev             # fuzz/: libFuzzer and its sanitizers (else the targets only replay their corpus)
      iproute2 util-linux                  # the netns partition test: ip (veth), unshare and nsenter
    ) ;;
  *) echo "install_deps: TUNEFLEET_DEPS must be all or image, not $profile" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  # Any kubectl with `kubectl kustomize` serves (Debian's is 1.20).
  if [[ $p == kubernetes-client ]] && command -v kubectl >/dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# promtool (tests/deploy: check and unit-test the alert rules, parse the
# dashboards' PromQL) comes in Debian's prometheus package, which would also
# install and start a Prometheus server: only promtool is taken out of it.
need_promtool=false
if [[ $profile == all ]] && ! command -v promtool >/dev/null; then need_promtool=true; fi

# The virtualenv: the pinned lines of requirements.txt (all of them; an image
# needs only libtorch's: torch and its nvidia-* CUDA libraries).
pinned() {  # profile
  if [[ $1 == image ]]; then
    grep -E '^(torch|nvidia-[a-z0-9-]+)==' "$requirements"
  else
    grep -E '^[A-Za-z0-9_.-]+==' "$requirements"
  fi
}
torch_pin=$(sed -n 's/^torch==//p' "$requirements")
want_stamp=$(pinned "$profile" | sha256sum | cut -d' ' -f1)
# A virtualenv with every pin serves the image profile too.
full_stamp=$(pinned all | sha256sum | cut -d' ' -f1)
stamp=$venv/.tunefleet-requirements
venv_problem=""
if [[ ! -x $venv/bin/python ]]; then
  venv_problem="no virtualenv at ${venv#"$root"/}"
elif ! grep -qxE "$want_stamp|$full_stamp" "$stamp" 2>/dev/null; then
  venv_problem="${venv#"$root"/} does not hold requirements.txt's pinned packages (new pins, or an install that stopped half-way)"
elif ! compgen -G "$venv/lib/python3*/site-packages/torch-$torch_pin.dist-info" >/dev/null; then
  venv_problem="${venv#"$root"/} holds another torch than requirements.txt's $torch_pin"
fi

if $check; then
  status=0
  if ((${#missing[@]})); then echo "install_deps: missing ${missing[*]}"; status=1; fi
  if $need_promtool; then echo "install_deps: missing promtool"; status=1; fi
  if [[ -n $venv_problem ]]; then echo "install_deps: $venv_problem"; status=1; fi
  ((status)) || echo "install_deps: everything for profile $profile is installed"
  exit $status
fi

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "install_deps: need root to install $1 (run as root or with sudo)" >&2
    exit 1
  fi
}

if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  need_root "${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if $need_promtool; then
  echo "install_deps: installing promtool from Debian's prometheus package"
  need_root promtool
  work=$(mktemp -d)
  (cd "$work" && { apt-get download prometheus 2>/dev/null || { apt-get update -qq && apt-get download prometheus; }; })
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  install -m 0755 "$work/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$work"
fi

if [[ -n $venv_problem ]]; then
  echo "install_deps: $venv_problem: installing the pinned packages (torch $torch_pin: 2.9 GB to download the first time, 5.2 GB installed)"
  # A virtualenv whose Python no longer starts (Python upgraded, a copy from
  # elsewhere) is made anew; anything else is repaired in place by pip.
  if [[ -e $venv ]] && ! "$venv/bin/python" -c '' 2>/dev/null; then
    echo "install_deps: ${venv#"$root"/} is broken (its python does not start): making it anew"
    rm -rf "$venv"
  fi
  # Debian's python3, never another one first on PATH (pyenv, conda): the
  # virtualenv must work for every user of the checkout.
  [[ -x $venv/bin/python ]] || /usr/bin/python3 -m venv "$venv"
  rm -f "$stamp"
  # --no-deps: requirements.txt lists every package, dependencies included.
  if ! pinned "$profile" | "$venv/bin/python" -m pip install --no-deps --require-virtualenv --disable-pip-version-check \
    --no-input --progress-bar off -q -r /dev/stdin; then
    echo "install_deps: pip could not install requirements.txt into ${venv#"$root"/}: see above; run this script again once PyPI is reachable" >&2
    exit 1
  fi
  echo "$want_stamp" >"$stamp"
  echo "install_deps: ${venv#"$root"/} ready: torch $torch_pin, $(du -sh "$venv" | cut -f1)"
fi
