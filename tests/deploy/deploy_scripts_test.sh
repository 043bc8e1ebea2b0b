#!/usr/bin/env bash
# Runs the scripts that the container builds and the Kubernetes pods run, here,
# since no container engine is available:
#   stage  BUILD   deploy/docker/stage_runtime.sh: the coordinator image's files
#                  run (in a chroot holding only glibc and libstdc++ besides
#                  them, when root), the worker's include its hooks
#   fetch          deploy/docker/fetch_libtorch.sh on a local archive: unpacks,
#                  refuses a wrong SHA-256, keeps an existing libtorch
#   rules          deploy/prometheus/to_prometheusrule.sh reproduces the
#                  committed PrometheusRule; install_deps.sh --check for images
#   hooks  BUILD   worker-entrypoint.sh and worker-prestop.sh against a real
#                  coordinator and worker (fake trainer): drain on preStop with
#                  a job running, exit on SIGTERM, READY again on the next
#                  start, CORDONED kept, an unreachable coordinator tolerated
# Each prints what it checks and exits non-zero at the first failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
what=${1:?stage|fetch|rules|hooks}
build=${2:-}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
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
  STAGE_SKIP=tunefleet-trainer "$root"/deploy/docker/stage_runtime.sh worker "$build" "$tmp/worker"
  for b in tunefleet-worker tunefleet tunefleet-worker-entrypoint tunefleet-worker-prestop; do
    [[ -x $tmp/worker/usr/local/bin/$b ]] || fail "worker image lacks $b"
  done
  LD_LIBRARY_PATH=$tmp/worker/usr/local/lib/tunefleet "$tmp/worker/usr/local/bin/tunefleet-worker" --version >/dev/null ||
    fail "staged worker --version"
  ok "worker image: worker, CLI and hooks staged (the trainer is built only in the CUDA image)"
  if "$root"/deploy/docker/stage_runtime.sh worker "$build" "$tmp/x" 2>/dev/null && [[ ! -x $build/trainer/tunefleet-trainer ]]; then
    fail "stage_runtime.sh accepted a worker build without the trainer"
  fi
  ok "a worker build without the trainer is refused"
  ;;

fetch)
  mkdir -p "$tmp/src/libtorch/share/cmake/Torch" "$tmp/src/libtorch/lib"
  echo "# fake" >"$tmp/src/libtorch/share/cmake/Torch/TorchConfig.cmake"
  echo "fake" >"$tmp/src/libtorch/lib/libtorch.so"
  (cd "$tmp/src" && zip -qr ../libtorch.zip libtorch)
  sha=$(sha256sum "$tmp/libtorch.zip" | cut -d' ' -f1)
  if "$root"/deploy/docker/fetch_libtorch.sh "file://$tmp/libtorch.zip" 0000 "$tmp/wrong" 2>/dev/null; then
    fail "a wrong SHA-256 was accepted"
  fi
  [[ ! -e $tmp/wrong ]] || fail "a refused archive was unpacked"
  ok "a wrong SHA-256 is refused"
  "$root"/deploy/docker/fetch_libtorch.sh "file://$tmp/libtorch.zip" "$sha" "$tmp/opt/libtorch"
  [[ -f $tmp/opt/libtorch/share/cmake/Torch/TorchConfig.cmake && -f $tmp/opt/libtorch/lib/libtorch.so ]] ||
    fail "libtorch not unpacked to DEST"
  "$root"/deploy/docker/fetch_libtorch.sh "file://$tmp/missing.zip" "$sha" "$tmp/opt/libtorch" | grep -q "already holds" ||
    fail "an existing libtorch was not kept"
  ok "libtorch unpacked, and kept on a second run"
  ;;

rules)
  diff -u "$root/deploy/kubernetes/base/prometheusrule.yaml" <("$root"/deploy/prometheus/to_prometheusrule.sh) ||
    fail "deploy/kubernetes/base/prometheusrule.yaml is stale: run deploy/prometheus/to_prometheusrule.sh > deploy/kubernetes/base/prometheusrule.yaml"
  ok "the PrometheusRule is the rules file"
  TUNEFLEET_DEPS=image "$root"/scripts/install_deps.sh --check || fail "install_deps.sh --check for the image profile"
  ok "install_deps.sh's image profile is satisfied"
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
  "$build/coordinator/tunefleet-coordinator" --listen 127.0.0.1:0 --port-file "$tmp/port" --database "$tmp/db" \
    --heartbeat-interval 0.2 --worker-timeout 3 --tick-interval 0.05 --restart-backoff 0.2 >"$tmp/coordinator.log" 2>&1 &
  pids+=($!)
  wait_for 10 test -s "$tmp/port" || fail "coordinator did not start"
  port=$(cat "$tmp/port")
  export TUNEFLEET_COORDINATOR=127.0.0.1:$port TUNEFLEET_WORKER_ID=node-a TUNEFLEET_CLI=$build/cli/tunefleet
  export TUNEFLEET_WORKER_BIN=$build/worker/tunefleet-worker TUNEFLEET_DRAIN_DEADLINE=20 TUNEFLEET_PRESTOP_POLL=0.2
  start_worker() {
    "$root"/deploy/docker/worker-entrypoint.sh --coordinator "$TUNEFLEET_COORDINATOR" --worker-id node-a \
      --trainer "$build/tests/control_plane/fake-trainer" --work-dir "$tmp/work" --heartbeat-interval 0.2 \
      --stop-grace 2 --drain-grace 10 --log-listen 127.0.0.1:0 >>"$tmp/worker.log" 2>&1 &
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
