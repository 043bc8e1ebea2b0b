#!/usr/bin/env bash
# Step time, bytes sent per rank per step and optimizer memory per rank for
# data-parallel training on CPU (Gloo), per world size and ZeRO stage, with
# real trainer processes on the bundled demo model (0.85M parameters).
#
#   bench/distributed_step_bench.sh [BUILD_DIR] [STEPS]
#
# Theory per rank per step, G = gradient bytes (padded flat buffer):
#   stage 0: all-reduce                    2(N-1)/N G
#   stage 1: all-reduce + all-gather        3(N-1)/N G  (state sharded, gradients not)
#   stage 2: reduce-scatter + all-gather    2(N-1)/N G
# "sent" is what this build's collectives count (ring algorithm bytes of each
# operation as issued, plus the few scalars for loss and norm).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
steps=${2:-8}
trainer=$build/trainer/tunefleet-trainer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/demo/tunefleet-demo-data" --out "$work/data" >/dev/null

run() {  # world stage -> prints one table row
  local world=$1 stage=$2 dir=$work/n$1s$2 pids=()
  mkdir -p "$dir"
  for ((r = 0; r < world; r++)); do
    OMP_NUM_THREADS=$((world == 1 ? 2 : 1)) "$trainer" train --spec "$root/demo/finetune.yaml" \
      --set dataset.path="$work/data/train.jsonl" --set dataset.validation_path= \
      --set hyperparameters.max_steps="$steps" --set hyperparameters.micro_batch_size=2 \
      --set hyperparameters.global_batch_size=8 --set hyperparameters.sequence_length=128 \
      --set resources.world_size="$world" --set parallelism.zero_stage="$stage" \
      --set parallelism.bucket_size_mb=1 --set export.directory="$dir/export" \
      --rank "$r" --world-size "$world" --rendezvous "file://$dir/store" >"$dir/rank$r.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || { cat "$dir"/rank*.log; exit 1; }; done
  local log=$dir/rank0.log
  local ms bytes state padded
  ms=$(sed -n 's/.*mean step \([0-9.]*\) ms.*/\1/p' "$log")
  bytes=$(sed -n 's/.*sent \([0-9]*\) bytes in.*/\1/p' "$log")
  state=$(sed -n 's/.*optimizer state \([0-9]*\) bytes for.*/\1/p' "$log")
  padded=$(sed -n 's/.*bytes for elements \[[0-9]*, [0-9]*) of \([0-9]*\).*/\1/p' "$log")
  awk -v n="$world" -v s="$stage" -v ms="$ms" -v b="$bytes" -v st="$steps" -v state="$state" -v p="$padded" 'BEGIN {
    g = 4 * p; k = (s == 1) ? 3 : 2; theory = k * (n - 1) / n * g
    printf "| %d | %d | %8.1f | %10.0f | %10.0f | %9.2f |\n", n, s, ms, b / st, theory, state / 1048576
  }'
}

echo "| N | stage | step ms | sent B/step (rank 0) | theory B/step | optimizer MiB/rank |"
echo "|---|---|---|---|---|---|"
for world in 1 2; do
  for stage in 0 1 2; do run "$world" "$stage"; done
done
