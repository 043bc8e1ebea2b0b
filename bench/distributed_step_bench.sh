#!/usr/bin/env bash
# Data-parallel training on CPU (Gloo) per world size N and ZeRO stage, with
# real trainer processes: where a step's time goes, what each rank sends, and
# the model-state memory per parameter beside the ZeRO paper's.
#
#   bench/distributed_step_bench.sh [BUILD_DIR] [STEPS] [MODEL]
#
# MODEL: "small" (default; 23.9M parameters, random weights: hidden 512,
# 8 layers, the demo's 512-token vocabulary) or "demo" (the bundled 0.85M
# model). bf16 weights and gradients with fp32 master weights and moments
# (hyperparameters.precision: bf16), so the paper's figures apply: per
# parameter, stage 0 holds 2 (weights) + 2 (gradients) + 12 (master, two
# moments) = 16 bytes, stage 1 4 + 12/N, stage 2 2 + 14/N. One micro-batch of
# 2 sequences x 128 tokens per rank per step (the global batch grows with N:
# weak scaling; no gradient accumulation, which at stage 2 would keep every
# parameter's gradient between micro-batches).
#
# Table 1, time, from rank 0's own "step" events (--metrics-out; the steps
# after the first, which warms allocators and Gloo's pairs): tokens/s over
# those steps, the mean step and its split (trainer/train/step_timer.h:
# compute, comm = blocked on collectives, data, other), and the overlap: the
# fraction of the gradient bytes whose reduction started while backward was
# still computing. Bytes per rank per step beside the theory, G = gradient
# bytes (bf16, padded flat buffer), ring collectives:
#   stage 0: all-reduce                    2(N-1)/N G
#   stage 1: reduce-scatter + all-gather   2(N-1)/N G  (full gradient buffer kept)
#   stage 2: reduce-scatter + all-gather   2(N-1)/N G  (only the shard's gradient kept)
# "sent" counts each operation as this build issues it (Gloo has no
# reduce-scatter: its stand-in, a reduce per owner, sends more); "ideal" is
# what real ring collectives would send; "written" is measured, the bytes the
# process wrote during the steps (/proc/self/io: Gloo's socket writes, headers
# included, plus log lines, metrics and the export of the model).
#
# Table 2, memory per trainable parameter, rank 0: "tensors" is the model
# state at its peak from the tensors themselves (weights + optimizer state +
# gradients at their peak, bucket staging and the update's fp32 copy of the
# gradients included: ZeroOptimizer::peak_model_state_bytes); "RSS" is the
# peak resident set during training (VmHWM, reset before the first step)
# less the resident set before the model was built, which adds activations,
# the data, libtorch's and Gloo's buffers and allocator slack.
# One intra-op thread per process at every N: on a small shared machine two
# OpenMP threads whose cores are busy spin at their barriers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
steps=${2:-5}
model=${3:-small}
trainer=$build/trainer/tunefleet-trainer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/demo/tunefleet-demo-data" --out "$work/data" >/dev/null
model_set=()
if [[ $model == small ]]; then
  mkdir -p "$work/model"
  cp "$root/demo/base_model/tokenizer.json" "$work/model/"
  sed -e 's/"hidden_size": 128/"hidden_size": 512/' -e 's/"intermediate_size": 384/"intermediate_size": 1408/' \
      -e 's/"num_hidden_layers": 4/"num_hidden_layers": 8/' -e 's/"num_attention_heads": 4/"num_attention_heads": 8/' \
      -e 's/"num_key_value_heads": 2/"num_key_value_heads": 4/' -e 's/"head_dim": 32/"head_dim": 64/' \
      "$root/demo/base_model/config.json" >"$work/model/config.json"
  model_set=(--set model.path="$work/model" --set model.from_scratch=true)
fi

run() {  # world stage -> appends one row to each table
  local world=$1 stage=$2 dir=$work/n$1s$2 pids=()
  mkdir -p "$dir"
  for ((r = 0; r < world; r++)); do
    OMP_NUM_THREADS=1 "$trainer" train --spec "$root/demo/finetune.yaml" "${model_set[@]}" \
      --set dataset.path="$work/data/train.jsonl" --set dataset.validation_path= \
      --set hyperparameters.max_steps="$steps" --set hyperparameters.micro_batch_size=2 \
      --set hyperparameters.global_batch_size=$((2 * world)) --set hyperparameters.sequence_length=128 \
      --set hyperparameters.precision=bf16 \
      --set resources.world_size="$world" --set parallelism.zero_stage="$stage" \
      --set parallelism.bucket_size_mb=4 --set export.directory="$dir/export" \
      --metrics-out "$dir/metrics$r.jsonl" --log-every 1 \
      --rank "$r" --world-size "$world" --rendezvous "file://$dir/store" >"$dir/rank$r.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || { cat "$dir"/rank*.log; exit 1; }; done
  python3 - "$world" "$stage" "$steps" "$dir/rank0.log" "$dir/metrics0.jsonl" "$work/time.md" "$work/memory.md" <<'PY'
import json, re, sys
world, stage, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
log = open(sys.argv[4]).read()
def num(pattern):
    m = re.search(pattern, log)
    if not m:
        sys.exit(f"rank 0's log has no match for {pattern!r}")
    return float(m.group(1))
sent = num(r"sent (\d+) bytes \(ideal")
ideal = num(r"\(ideal (\d+)\)")
written = num(r"wrote (-?\d+) bytes")
padded = num(r"bytes for elements \[\d+, \d+\) of (\d+)")
peak = num(r"model state peak (\d+) bytes")
params = num(r"model state peak \d+ bytes for (\d+) parameters")
weights = num(r"weights (\d+), optimizer state")
optimizer = num(r"optimizer state (\d+), gradients at their peak")
grads = num(r"gradients at their peak (\d+)")
before = num(r"resident before the model (\d+) bytes")
rss_peak = num(r"peak resident [a-z ]+ (\d+) bytes \(VmHWM\)")
events = [json.loads(l) for l in open(sys.argv[5]) if '"event":"step"' in l]
timed = events[1:]
phases = ["step_compute_seconds", "step_comm_seconds", "step_data_seconds", "step_other_seconds"]
walls = [sum(e[p] for p in phases) for e in timed]
total = sum(walls)
tokens = sum(e["tokens_per_second"] * w for e, w in zip(timed, walls))  # each step's tokens (--log-every 1)
mean = lambda key: 1000 * sum(e[key] for e in timed) / len(timed)
overlap = events[-1].get("step_comm_overlap")
g = 2 * padded  # bf16 gradients
theory_bytes = 2 * (world - 1) / world * g
theory_mem = {0: 16, 1: 4 + 12 / world, 2: 2 + 14 / world}[stage]
with open(sys.argv[6], "a") as out:
    out.write(f"| {world} | {stage} | {tokens / total:7.0f} | {1000 * total / len(timed):7.0f} | "
              + " | ".join(f"{mean(p):6.0f}" for p in phases)
              + f" | {'-' if overlap is None else f'{100 * overlap:.0f}%'} | {sent / steps:10.0f} | {ideal / steps:10.0f}"
              f" | {written / steps:10.0f} | {theory_bytes:10.0f} |\n")
with open(sys.argv[7], "a") as out:
    out.write(f"| {world} | {stage} | {theory_mem:5.2f} | {peak / params:5.2f} | {weights / params:4.2f} | "
              f"{grads / params:4.2f} | {optimizer / params:5.2f} | {(rss_peak - before) / params:6.2f} |\n")
PY
}

for world in 1 2 3; do
  for stage in 0 1 2; do run "$world" "$stage"; done
done
echo "| N | stage | tokens/s | step ms | compute ms | comm ms | data ms | other ms | overlap | sent B/step | ideal B/step | written B/step | theory B/step |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
cat "$work/time.md"
echo
echo "| N | stage | theory B/param | tensors B/param (peak) | weights | gradients (peak) | optimizer | RSS peak - before model, B/param |"
echo "|---|---|---|---|---|---|---|---|"
cat "$work/memory.md"
