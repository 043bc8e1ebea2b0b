#!/usr/bin/env bash
# Rebuilds demo/base_model/ from nothing: the recipe behind the committed
# files, so anyone can check where the bundled model came from. Not part of
# the main job or the tests (they use the committed files); takes minutes.
#   1. generate the demo corpus (statements of sums, chat questions);
#   2. train a byte-level BPE tokenizer.json on it;
#   3. pretrain the model in config.json from scratch on the statements;
#   4. copy the exported weights next to config.json and tokenizer.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TUNEFLEET_BUILD_DIR:-$root/build}
work=${1:-$root/.state/base-model}
trainer=$build/trainer/tunefleet-trainer
model=$root/demo/base_model

mkdir -p "$work"
"$build"/demo/tunefleet-demo-data --out "$work/data" >/dev/null
"$trainer" train-tokenizer --corpus "$work/data/pretrain.jsonl" \
  --vocab-size "$(python3 -c "import json;print(json.load(open('$model/config.json'))['vocab_size'])")" \
  --out "$model/tokenizer.json"
"$trainer" train --spec "$root/demo/pretrain.yaml" \
  --set "dataset.path=$work/data/pretrain.jsonl" \
  --set "export.directory=$work/export" \
  --metrics-out "$work/metrics.jsonl"
cp "$work/export/model.safetensors" "$model/model.safetensors"
echo "base model written to $model"
