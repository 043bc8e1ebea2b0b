#!/usr/bin/env bash
# Step time, bytes sent per rank per step and optimizer memory per rank for
# data-parallel training on CPU (Gloo), per world size and ZeRO stage, with
# real trainer processes on the bundled demo model (0.85M parameters).
#
#   bench/distributed_step_bench.sh [BUILD_DIR] [STEPS]
#
# Theory per rank per step, G = gradient bytes (padded flat buffer), ring
# collectives:
#   stage 0: all-reduce                    2(N-1)/N G
#   stage 1: reduce-scatter + all-gather   2(N-1)/N G  (full gradient buffer kept)
#   stage 2: reduce-scatter + all-gather   2(N-1)/N G  (only the shard's gradient kept)
# Columns, all from rank 0: "sent" counts each operation as this build issues
# it (Gloo has no reduce-scatter: its stand-in, a reduce per owner, sends
# more); "ideal" is what real ring collectives would send; "written" is
# measured, the bytes the process wrote during the steps (/proc/self/io:
# Gloo's socket writes, headers included, plus a few log lines); "grad MiB"
# is the gradient memory held after the last step, from the tensors, and
# "peak staging" the most stage 2 held in bucket staging buffers at once.
# One intra-op thread per process at every N: on a small shared machine two
# OpenMP threads whose cores are busy spin at their barriers (measured: 10x
# slower steps at N = 1 on the 2-core development machine).
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
    OMP_NUM_THREADS=1 "$trainer" train --spec "$root/demo/finetune.yaml" \
      --set dataset.path="$work/data/train.jsonl" --set dataset.validation_path= \
      --set hyperparameters.max_steps="$steps" --set hyperparameters.micro_batch_size=2 \
      --set hyperparameters.global_batch_size=12 --set hyperparameters.sequence_length=128 \
      --set resources.world_size="$world" --set parallelism.zero_stage="$stage" \
      --set parallelism.bucket_size_mb=1 --set export.directory="$dir/export" \
      --rank "$r" --world-size "$world" --rendezvous "file://$dir/store" >"$dir/rank$r.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || { cat "$dir"/rank*.log; exit 1; }; done
  local log=$dir/rank0.log
  local ms bytes ideal written state padded grad staging
  ms=$(sed -n 's/.*mean step \([0-9.]*\) ms.*/\1/p' "$log")
  bytes=$(sed -n 's/.*sent \([0-9]*\) bytes (ideal.*/\1/p' "$log")
  ideal=$(sed -n 's/.*sent [0-9]* bytes (ideal \([0-9]*\)).*/\1/p' "$log")
  written=$(sed -n 's/.*wrote \([0-9-]*\) bytes.*/\1/p' "$log")
  state=$(sed -n 's/.*optimizer state \([0-9]*\) bytes for.*/\1/p' "$log")
  padded=$(sed -n 's/.*bytes for elements \[[0-9]*, [0-9]*) of \([0-9]*\).*/\1/p' "$log")
  grad=$(sed -n 's/.*gradient memory after the step \([0-9]*\) bytes.*/\1/p' "$log")
  staging=$(sed -n 's/.*peak staging \([0-9]*\) bytes.*/\1/p' "$log")
  awk -v n="$world" -v s="$stage" -v ms="$ms" -v b="$bytes" -v i="$ideal" -v w="$written" -v st="$steps" \
      -v state="$state" -v p="$padded" -v grad="$grad" -v stg="$staging" 'BEGIN {
    g = 4 * p; theory = 2 * (n - 1) / n * g
    printf "| %d | %d | %7.1f | %9.0f | %9.0f | %9.0f | %9.0f | %6.2f | %6.2f | %6.2f |\n", n, s, ms, b / st, i / st,
           w / st, theory, state / 1048576, grad / 1048576, stg / 1048576
  }'
}

echo "| N | stage | step ms | sent B/step | ideal B/step | written B/step | theory B/step | optimizer MiB/rank | grad MiB/rank | peak staging MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for world in 1 2 3; do
  for stage in 0 1 2; do run "$world" "$stage"; done
done
