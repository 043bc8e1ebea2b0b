#!/usr/bin/env bash
# Runs the scripts that the container builds and the Kubernetes pods run, here,
# since no container engine is available:
#   stage  BUILD   deploy/docker/stage_runtime.sh: the coordinator image's files
#                  run (in a chroot holding only glibc and libstdc++ besides
#                  them, when root); the worker's include its hooks and, when
#                  BUILD has the trainer, libtorch and the CUDA wheels'
#                  libraries (those libtorch loads with dlopen too), enough
#                  for the trainer to start in such a chroot and for every
#                  staged library to load there (the driver's libcuda aside)
#   rules          deploy/prometheus/to_prometheusrule.sh reproduces the
#                  committed PrometheusRule; install_deps.sh --check for images
#   hooks  BUILD   worker-entrypoint.sh and worker-prestop.sh against a real
#                  coordinator and worker (fake trainer): drain on preStop with
#                  a job running, exit on SIGTERM, READY again on the next
#                  start, CORDONED kept, an unreachable coordinator tolerated
# Each prints what it checks and exits non-zero at the first failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
what=${1:?stage|rules|hooks}
build=${2:-}
tmp=$(mktemp -d)
pids=()
cleanup_dirs=("$tmp")
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "${cleanup_dirs[@]}"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

case $what in
stage)
  "$root"/deploy/docker/stage_runtime.sh coordinator "$build" "$tmp/coordinator"
  for b in tunefleet-coordinator tunefleet; do
    [[ -x $tmp/coordinator/usr/local/bin/$b ]] || fail "coordinator image lacks $b"
    LD_LIBRARY_PATH=$tmp/coordinator/usr/local/lib/tunefleet "$tmp/coordinator/usr/local/bin/$b" --version >/dev/null ||
      fail "staged $b --version"
  done
  ok "coordinator image: $(ls "$tmp/coordinator/usr/local/lib/tunefleet" | wc -l) libraries staged"
  if [[ $(id -u) -eq 0 ]] && command -v chroot >/dev/null; then
    # The slim base's part: the dynamic loader, glibc, libstdc++, libgcc_s.
    # Anything else the binaries need must come from the staged files.
    base=$tmp/coordinator
    for lib in $(ldd "$build/coordinator/tunefleet-coordinator" "$build/cli/tunefleet" |
      awk '/ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libresolv|libstdc\+\+|libgcc_s/ { print ($3 ~ /^\//) ? $3 : $1 }' | sort -u); do
      mkdir -p "$base$(dirname "$lib")"
      cp -L "$lib" "$base$lib"
    done
    for b in tunefleet-coordinator tunefleet; do
      out=$(LD_LIBRARY_PATH=/usr/local/lib/tunefleet chroot "$base" "/usr/local/bin/$b" --version 2>&1) ||
        fail "$b in a root holding only the staged files and glibc: $out"
    done
    ok "staged coordinator and CLI run in a chroot with nothing but glibc and libstdc++ besides them ($out)"
  else
    echo "skip: the chroot check needs root"
  fi
  # The worker's image. STAGE_LINK=1: hard links, not 3.5 GB of copies, so
  # staged in BUILD (usually on the virtualenv's file system, unlike /tmp).
  w=$(mktemp -d "$build/deploy-stage-worker.XXXXXX")
  cleanup_dirs+=("$w")
  if [[ -x $build/trainer/tunefleet-trainer ]]; then
    STAGE_LINK=1 "$root"/deploy/docker/stage_runtime.sh worker "$build" "$w"
  else
    STAGE_SKIP=tunefleet-trainer "$root"/deploy/docker/stage_runtime.sh worker "$build" "$w"
  fi
  wlib=$w/usr/local/lib/tunefleet
  for b in tunefleet-worker tunefleet tunefleet-worker-entrypoint tunefleet-worker-prestop; do
    [[ -x $w/usr/local/bin/$b ]] || fail "worker image lacks $b"
  done
  LD_LIBRARY_PATH=$wlib "$w/usr/local/bin/tunefleet-worker" --version >/dev/null || fail "staged worker --version"
  if [[ -x $w/usr/local/bin/tunefleet-trainer ]]; then
    # libtorch and the CUDA libraries come from the virtualenv's wheels, found
    # by ldd through the trainer's RUNPATH and libtorch_cuda's RPATH.
    needs=$(ldd "$build/trainer/tunefleet-trainer")
    grep -q "libtorch_cpu.so => .*/site-packages/torch/lib/" <<<"$needs" ||
      fail "ldd does not resolve the trainer's libtorch to the virtualenv's torch wheel: $(grep torch <<<"$needs")"
    for lib in $(awk '$2 == "=>" && $3 ~ /site-packages/ { print $1 }' <<<"$needs"); do
      [[ -f $wlib/$lib ]] || fail "the trainer needs $lib (from the wheels), which was not staged"
    done
    if grep -q "libtorch_cuda.so =>" <<<"$needs"; then
      for pattern in libtorch_cuda_linalg.so libcaffe2_nvrtc.so 'libnvrtc.so.*' 'libnvrtc-builtins.so.*' 'libcudnn_ops.so.*' \
        'libcudnn_engines_precompiled.so.*' 'libnccl.so.*' 'libcublasLt.so.*'; do
        compgen -G "$wlib/$pattern" >/dev/null || fail "a CUDA worker image without $pattern"
      done
      ok "worker image: the CUDA trainer with libtorch and the wheels' CUDA, cuDNN and NCCL libraries ($(ls "$wlib" | wc -l) libraries, those loaded with dlopen included)"
    else
      ok "worker image: the CPU trainer with libtorch ($(ls "$wlib" | wc -l) libraries)"
    fi
  else
    ok "worker image: worker, CLI and hooks staged (this build has no trainer)"
  fi
  if [[ $(id -u) -eq 0 ]] && command -v chroot >/dev/null; then
    for lib in $(ldd "$w"/usr/local/bin/tunefleet-* 2>/dev/null |
      awk '/ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libresolv|libutil|libstdc\+\+|libgcc_s/ { print ($3 ~ /^\//) ? $3 : $1 }' | sort -u); do
      mkdir -p "$w$(dirname "$lib")"
      cp -L "$lib" "$w$lib"
    done
    ran=()
    for b in tunefleet-worker tunefleet-trainer; do
      [[ -x $w/usr/local/bin/$b ]] || continue
      out=$(LD_LIBRARY_PATH=/usr/local/lib/tunefleet chroot "$w" "/usr/local/bin/$b" --version 2>&1) ||
        fail "$b in a root holding only the staged files and glibc: $out"
      ran+=("$b")
    done
    # Every staged library loads there too, those dlopen'ed included; the
    # driver's libcuda.so.1 (mounted by the NVIDIA container toolkit) is a stub.
    loader=$(ldd "$build/worker/tunefleet-worker" | awk '/ld-linux/ { print $1 }')
    if command -v cc >/dev/null; then
      mkdir -p "$w/usr/lib/x86_64-linux-gnu"
      cc -shared -o "$w/usr/lib/x86_64-linux-gnu/libcuda.so.1" -x c /dev/null || fail "cc: the libcuda.so.1 stub"
    fi
    for lib in "$wlib"/*; do
      out=$(LD_LIBRARY_PATH=/usr/local/lib/tunefleet chroot "$w" "$loader" --list "/usr/local/lib/tunefleet/${lib##*/}" 2>&1) ||
        [[ $out == *"libcuda.so.1: cannot open"* ]] || fail "${lib##*/} does not load in the worker's root: $out"
      [[ $out != *"not found"* ]] || fail "${lib##*/} does not load in the worker's root: $(grep "not found" <<<"$out")"
    done
    ok "staged ${ran[*]} run in a chroot with nothing but glibc and libstdc++ besides them; all $(ls "$wlib" | wc -l) staged libraries load there"
  else
    echo "skip: the worker's chroot check needs root"
  fi
  # A worker build whose trainer is missing is refused.
  mkdir -p "$tmp/notrainer/worker" "$tmp/notrainer/cli"
  ln -s "$build/worker/tunefleet-worker" "$tmp/notrainer/worker/"
  ln -s "$build/cli/tunefleet" "$tmp/notrainer/cli/"
  if "$root"/deploy/docker/stage_runtime.sh worker "$tmp/notrainer" "$tmp/x" 2>/dev/null; then
    fail "stage_runtime.sh accepted a worker build without the trainer"
  fi
  ok "a worker build without the trainer is refused"
  ;;

rules)
  diff -u "$root/deploy/kubernetes/base/prometheusrule.yaml" <("$root"/deploy/prometheus/to_prometheusrule.sh) ||
    fail "deploy/kubernetes/base/prometheusrule.yaml is stale: run deploy/prometheus/to_prometheusrule.sh > deploy/kubernetes/base/prometheusrule.yaml"
  ok "the PrometheusRule is the rules file"
  # The image profile: its Debian packages, and a .venv with the pins of torch
  # and its nvidia-* wheels. A development .venv holds every pin (profile
  # all), a superset, but install_deps.sh --check wants the set of the profile
  # asked for, so only that complaint is let pass, and only when profile all
  # is complete.
  if out=$(TUNEFLEET_DEPS=image "$root"/scripts/install_deps.sh --check); then
    ok "install_deps.sh's image profile is satisfied"
  elif [[ -z $(grep -v "does not hold requirements.txt's pinned packages" <<<"$out") ]] &&
    all=$("$root"/scripts/install_deps.sh --check); then
    ok "install_deps.sh's image profile: its Debian packages are installed, and .venv holds profile all's pins, a superset of its own ($all)"
  else
    fail "install_deps.sh --check for the image profile: $out"
  fi
  ;;

hooks)
  cli() { "$build/cli/tunefleet" --coordinator "127.0.0.1:$port" --connect-timeout 2 "$@"; }
  state() { cli workers | awk '$1 == "workers/node-a" { print $2 }'; }
  wait_for() { # seconds, command...
    local until=$((SECONDS + $1))
    shift
    until "$@"; do
      ((SECONDS < until)) || return 1
      sleep 0.1
    done
  }
  # TLS as in production: the cluster's credentials, and a config the hooks' CLI finds them through.
  "$build/cli/tunefleet" pki --dir "$tmp/pki" init >/dev/null || fail "pki init"
  "$build/cli/tunefleet" pki --dir "$tmp/pki" worker node-a >/dev/null || fail "pki worker"
  printf 'current-context: t\ncontexts:\n  t:\n    certificate-authority: %s\n    token-file: %s\n' \
    "$tmp/pki/ca.pem" "$tmp/pki/admin.token" >"$tmp/config"
  export TUNEFLEET_CONFIG=$tmp/config
  "$build/coordinator/tunefleet-coordinator" --listen 127.0.0.1:0 --port-file "$tmp/port" --database "$tmp/db" \
    --heartbeat-interval 0.2 --worker-timeout 3 --tick-interval 0.05 --restart-backoff 0.2 \
    --tls-ca "$tmp/pki/ca.pem" --tls-cert "$tmp/pki/coordinator.pem" --tls-key "$tmp/pki/coordinator.key" \
    --tokens-file "$tmp/pki/tokens" >"$tmp/coordinator.log" 2>&1 &
  pids+=($!)
  wait_for 10 test -s "$tmp/port" || fail "coordinator did not start"
  port=$(cat "$tmp/port")
  export TUNEFLEET_COORDINATOR=127.0.0.1:$port TUNEFLEET_WORKER_ID=node-a TUNEFLEET_CLI=$build/cli/tunefleet
  export TUNEFLEET_WORKER_BIN=$build/worker/tunefleet-worker TUNEFLEET_DRAIN_DEADLINE=20 TUNEFLEET_PRESTOP_POLL=0.2
  start_worker() {
    "$root"/deploy/docker/worker-entrypoint.sh --coordinator "$TUNEFLEET_COORDINATOR" --worker-id node-a \
      --trainer "$build/tests/control_plane/fake-trainer" --work-dir "$tmp/work" --heartbeat-interval 0.2 \
      --stop-grace 2 --drain-grace 10 --log-listen 127.0.0.1:0 --tls-ca "$tmp/pki/ca.pem" \
      --tls-cert "$tmp/pki/workers/node-a.pem" --tls-key "$tmp/pki/workers/node-a.key" >>"$tmp/worker.log" 2>&1 &
    worker=$!
    pids+=("$worker")
  }
  start_worker
  wait_for 10 bash -c "[[ \$('$build/cli/tunefleet' --coordinator 127.0.0.1:$port workers | awk '\$1 == \"workers/node-a\" { print \$2 }') == READY ]]" ||
    fail "worker did not register READY: $(cat "$tmp/worker.log")"
  ok "worker started through the entrypoint is READY"

  cat >"$tmp/job.yaml" <<EOF
display_name: "fake:steps=100000,step_ms=20,ckpt_every=5"
model: {path: $tmp/model}
dataset: {path: $tmp/train.jsonl}
resources: {world_size: 1}
checkpoint: {directory: $tmp/checkpoints}
EOF
  job=$(cli submit "$tmp/job.yaml") || fail "submit"
  job=${job##* }
  wait_for 15 bash -c "'$build/cli/tunefleet' --coordinator 127.0.0.1:$port get $job | grep -q RUNNING" ||
    fail "job did not run: $(cli get "$job")"
  ok "$job running on node-a"

  "$root"/deploy/docker/worker-prestop.sh || fail "preStop exited non-zero"
  [[ $(state) == DRAINED ]] || fail "after preStop node-a is $(state), not DRAINED"
  cli get "$job" | grep -q QUEUED || fail "the drained job is not QUEUED again: $(cli get "$job")"
  ok "preStop drained node-a; $job is QUEUED again"

  kill -TERM "$worker"
  wait_for 10 bash -c "! kill -0 $worker 2>/dev/null" || fail "worker did not exit on SIGTERM after preStop"
  wait "$worker" || fail "worker exited $? on SIGTERM"
  ok "SIGTERM after preStop: worker exits 0"

  start_worker
  wait_for 10 bash -c "[[ \$('$build/cli/tunefleet' --coordinator 127.0.0.1:$port workers | awk '\$1 == \"workers/node-a\" { print \$2 }') == READY ]]" ||
    fail "a new pod did not make the DRAINED worker READY: $(cli workers)"
  wait_for 15 bash -c "'$build/cli/tunefleet' --coordinator 127.0.0.1:$port get $job | grep -q RUNNING" ||
    fail "the job did not resume on the new pod: $(cli get "$job")"
  ok "the next pod's entrypoint made node-a READY and $job runs again"

  cli cordon node-a >/dev/null
  kill -KILL "$worker"
  start_worker
  sleep 1
  [[ $(state) == CORDONED ]] || fail "a CORDONED worker was changed to $(state) by the entrypoint"
  ok "a CORDONED worker stays CORDONED"

  start=$SECONDS
  TUNEFLEET_COORDINATOR=127.0.0.1:1 "$root"/deploy/docker/worker-prestop.sh 2>/dev/null || fail "preStop failed without a coordinator"
  ((SECONDS - start < 15)) || fail "preStop without a coordinator took $((SECONDS - start)) s"
  ok "preStop without a coordinator returns at once (SIGTERM drains)"
  ;;
*)
  fail "unknown check $what"
  ;;
esac
