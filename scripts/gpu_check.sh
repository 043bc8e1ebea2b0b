#!/usr/bin/env bash
# The GPU check: one call on a machine lent through the `device` tool (one
# H200 or H100, torch 2.11 with CUDA in its Python, no registry), in two parts:
#  1. the CUDA trainer built here (NCCL, world size 1) against the same binary
#     on the CPU: per-step losses of a tiny Llama in fp32 must agree to 1e-4
#     relative (bf16 to 5e-2), and a LoRA run must train;
#  2. speed, with random weights: SmolLM2-135M's shape (full and LoRA r=16) and
#     a ~1B Llama, beside a plain PyTorch eager loop (transformers'
#     LlamaForCausalLM, AdamW foreach; bench/gpu_pytorch_loop.py) and
#     torch.compile in the same run: one table of tokens/s, MFU (torchtitan's
#     formula, 989 TFLOP/s dense bf16) and peak memory.
# Logs land in $OUT (the device tool brings them back); exit 1 if a part failed.
#
#   scripts/gpu_check.sh prepare   # here: stage the trainer and the shared
#                                  # libraries it needs (but torch's) in .devcarry/
#   scripts/gpu_check.sh run       # there: run (carry .devcarry), under 8 minutes
#
# Through the device tool, from the repository root:
#   run(command="scripts/gpu_check.sh run", carry=[".devcarry"], timeout_s=540)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$root/.devcarry
steps=${GPU_CHECK_STEPS:-30}
seq=${GPU_CHECK_SEQ:-1024}
micro=${GPU_CHECK_MICRO_BATCH:-8}
reference=${GPU_CHECK_REFERENCE:-1}  # 0: tunefleet's rows only (a short re-check)

case ${1:-} in
  prepare)
    build=${TUNEFLEET_BUILD_DIR:-$root/build}
    rm -rf "$carry" && mkdir -p "$carry/lib"
    # Without debug info: what travels is limited to 64 MiB.
    strip --strip-debug -o "$carry/tunefleet-trainer" "$build/trainer/tunefleet-trainer"
    strip --strip-debug -o "$carry/tunefleet-demo-data" "$build/demo/tunefleet-demo-data"
    # Every library ldd resolves except torch's own (the GPU machine has the
    # same torch) and the C runtime's.
    for bin in "$carry/tunefleet-trainer" "$carry/tunefleet-demo-data"; do
      ldd "$bin" | awk '$2 == "=>" {print $1, $3}' | while read -r name path; do
        case $path in */torch/lib/* | */nvidia/* | /lib/x86_64-linux-gnu/libc.so* | /lib/x86_64-linux-gnu/libm.so* | \
          /lib/x86_64-linux-gnu/libstdc++* | /lib/x86_64-linux-gnu/libgcc_s*) continue ;; esac
        strip --strip-debug -o "$carry/lib/$name" "$path"
      done
    done
    cp "$root/demo/base_model/tokenizer.json" "$carry/"
    echo "gpu_check: staged $(du -sh "$carry" | cut -f1) in .devcarry (limit 64 MiB)"
    exit 0 ;;
  run) ;;
  *) echo "usage: scripts/gpu_check.sh prepare|run" >&2; exit 2 ;;
esac

[[ -x $carry/tunefleet-trainer ]] || { echo "gpu_check: no .devcarry/tunefleet-trainer: run 'scripts/gpu_check.sh prepare' here first" >&2; exit 1; }
python=${PYTHON:-python3}
out=${OUT:-$(mktemp -d)}  # the device tool brings back what is written under $OUT
exec > >(tee "$out/gpu_check.log") 2>&1
torch_dir=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
site=$(dirname "$torch_dir")
export LD_LIBRARY_PATH="$carry/lib:$torch_dir/lib:$(find "$site/nvidia" -maxdepth 3 -name lib -type d 2>/dev/null | paste -sd:)"
"$carry/tunefleet-trainer" --version
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$python" -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$carry/tunefleet-demo-data" --out "$work/data" >/dev/null
ref="$python $root/bench/gpu_pytorch_loop.py"
failed=0

# model_dir NAME hidden inter layers heads kv vocab seq: a config.json of that shape
model_dir() {
  local dir=$work/$1
  mkdir -p "$dir"
  cp "$carry/tokenizer.json" "$dir/"
  cat >"$dir/config.json" <<EOF
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": $2,
 "intermediate_size": $3, "num_hidden_layers": $4, "num_attention_heads": $5,
 "num_key_value_heads": $6, "head_dim": $(($2 / $5)), "hidden_act": "silu",
 "max_position_embeddings": $8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
 "tie_word_embeddings": false, "vocab_size": $7, "bos_token_id": 0, "eos_token_id": 0,
 "torch_dtype": "bfloat16"}
EOF
}

# train RUN MODEL GPUS PRECISION STEPS MICRO SEQ METHOD: one trainer run; its
# metrics land in $work/RUN.metrics, its log in $out/RUN.log (its tail on failure)
train() {
  local run=$1
  cat >"$work/$run.yaml" <<EOF
model: {path: $work/$2, from_scratch: true}
dataset: {path: $work/data/pretrain.jsonl, format: text}
method: $8
resources: {world_size: 1, gpus_per_rank: $3}
hyperparameters: {learning_rate: 1e-4, max_steps: $5, micro_batch_size: $6,
                  global_batch_size: $6, sequence_length: $7, seed: 1, precision: $4}
export: {directory: $work/$run-export}
EOF
  if ! timeout 300 "$carry/tunefleet-trainer" train --spec "$work/$run.yaml" --rank 0 --world-size 1 \
      --rendezvous "file://$work/$run.store" --metrics-out "$work/$run.metrics" >"$out/$run.log" 2>&1; then
    echo "gpu_check: trainer run $run failed:"; tail -n 25 "$out/$run.log"; failed=1; return 1
  fi
}

echo
echo "## 1. The CUDA trainer agrees with the CPU trainer (fp32, same seed, tiny Llama)"
model_dir tiny 64 128 2 4 2 512 128
train tiny-cpu tiny 0 fp32 6 4 128 "{type: full}" &&
  train tiny-gpu tiny 1 fp32 6 4 128 "{type: full}" &&
  { $ref agree --a "$work/tiny-cpu.metrics" --b "$work/tiny-gpu.metrics" --label "CPU vs CUDA fp32" --limit 1e-4 || failed=1; }
train tiny-gpu-bf16 tiny 1 bf16 6 4 128 "{type: full}" &&
  { $ref agree --a "$work/tiny-cpu.metrics" --b "$work/tiny-gpu-bf16.metrics" --label "CPU fp32 vs CUDA bf16" --limit 5e-2 || failed=1; }
train tiny-gpu-lora tiny 1 bf16 6 4 128 "{type: lora, lora: {rank: 8}}" || true

echo
echo "## 2. Speed beside PyTorch on the same GPU (random weights, ${steps} steps of ${micro} x ${seq} tokens)"
# name hidden intermediate layers heads kv_heads vocab lora_rank
cases=("smollm2-135m 576 1536 30 9 3 49152 0" "smollm2-135m 576 1536 30 9 3 49152 16" "llama-1b 2048 8192 16 32 8 32000 0")
rows=$work/rows.md
for case in "${cases[@]}"; do
  read -r name hidden inter layers heads kv vocab lora <<<"$case"
  [[ -d $work/$name ]] || model_dir "$name" "$hidden" "$inter" "$layers" "$heads" "$kv" "$vocab" "$seq"
  shape=(--name "$name" --hidden "$hidden" --inter "$inter" --layers "$layers" --heads "$heads" --kv "$kv" --vocab "$vocab" --seq "$seq" --lora "$lora")
  method="{type: full}"
  ((lora)) && method="{type: lora, lora: {rank: $lora, alpha: $((2 * lora)), target_modules: [q_proj, k_proj, v_proj, o_proj]}}"
  run=$name-r$lora
  train "$run" "$name" 1 bf16 "$steps" "$micro" "$seq" "$method" && $ref metrics "${shape[@]}" --file "$work/$run.metrics" | tee -a "$rows"
  ((reference)) || continue
  timeout 240 $ref loop "${shape[@]}" --micro "$micro" --steps "$steps" | tee -a "$rows" || echo "| $name | r=$lora | PyTorch eager | failed | | |" | tee -a "$rows"
done
# torch.compile last: its compile time is the least predictable part of the check.
for case in "${cases[@]}"; do
  read -r name hidden inter layers heads kv vocab lora <<<"$case"
  ((lora || !reference)) && continue
  shape=(--name "$name" --hidden "$hidden" --inter "$inter" --layers "$layers" --heads "$heads" --kv "$kv" --vocab "$vocab" --seq "$seq" --lora 0)
  timeout 240 $ref loop "${shape[@]}" --micro "$micro" --steps "$steps" --compile | tee -a "$rows" || echo "| $name | full | torch.compile | failed | | |" | tee -a "$rows"
done
echo
echo "| model | method | loop | tokens/s | MFU | peak GiB |"
echo "| --- | --- | --- | ---: | ---: | ---: |"
sort -s -t'|' -k2,3 "$rows"
# Every run must shut its NCCL process group down (no "destroy_process_group()
# was not called" at exit).
if grep -l "destroy_process_group() was not called" "$out"/*.log; then
  echo "gpu_check: the runs above left their process group up at exit"; failed=1
fi
exit $failed
