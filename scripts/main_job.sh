#!/usr/bin/env bash
# tunefleet's main job: fine-tunes the bundled base model on the demo task
# (two-digit addition asked in words) and prints exact-match accuracy on
# held-out questions before and after. Installs and builds first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TUNEFLEET_BUILD_DIR:-$root/build}
state=${TUNEFLEET_STATE_DIR:-$root/.state/main-job}

"$root"/scripts/install_deps.sh
"$root"/scripts/build.sh
trainer=$build/trainer/tunefleet-trainer

mkdir -p "$state"
"$build"/demo/tunefleet-demo-data --out "$state/data" >/dev/null
rm -rf "$state/checkpoints"

evaluate() {  # model dir -> exact-match line
  "$trainer" evaluate --model "$1" --data "$state/data/test.jsonl" --chat-template chatml --max-new-tokens 6
}

echo "== base model, before fine-tuning"
before=$(evaluate "$root/demo/base_model")
echo "$before"

echo "== fine-tuning (one process; the job spec is demo/finetune.yaml)"
start=$(date +%s)
"$trainer" train --spec "$root/demo/finetune.yaml" \
  --set "dataset.path=$state/data/train.jsonl" \
  --set "dataset.validation_path=$state/data/validation.jsonl" \
  --set "checkpoint.directory=$state/checkpoints" \
  --set "export.directory=$state/export" \
  --metrics-out "$state/metrics.jsonl"
end=$(date +%s)

echo "== fine-tuned model"
after=$(evaluate "$state/export")
echo "$after"
echo
echo "before: $before"
echo "after:  $after"
echo "fine-tuning took $((end - start)) s; exported model: $state/export; metrics: $state/metrics.jsonl"
