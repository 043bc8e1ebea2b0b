#!/usr/bin/env bash
# The GPU check: one call on a machine lent through the `device` tool (one
# H200 or H100, torch 2.11 with CUDA in its Python, no registry). It trains
# with the CUDA trainer built here (NCCL, world size 1, bf16) on two model
# shapes with random weights, SmolLM2-135M's (the real model's shape) and a
# ~1B Llama, and in the same run the same shapes in a plain PyTorch eager
# training loop (Hugging Face LlamaForCausalLM, AdamW foreach) and with
# torch.compile, and prints one table: tokens/s, MFU (torchtitan's formula,
# against 989 TFLOP/s dense bf16) and peak memory.
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
torch_dir=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
site=$(dirname "$torch_dir")
export LD_LIBRARY_PATH="$carry/lib:$torch_dir/lib:$(find "$site/nvidia" -maxdepth 3 -name lib -type d 2>/dev/null | paste -sd:)"
"$carry/tunefleet-trainer" --version
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$carry/tunefleet-demo-data" --out "$work/data" >/dev/null

# name hidden intermediate layers heads kv_heads vocab
shapes=("smollm2-135m 576 1536 30 9 3 49152" "llama-1b 2048 8192 16 32 8 32000")
echo
echo "| model | params | loop | tokens/s | MFU | peak GiB |"
echo "| --- | ---: | --- | ---: | ---: | ---: |"
for shape in "${shapes[@]}"; do
  read -r name hidden inter layers heads kv vocab <<<"$shape"
  model=$work/$name
  mkdir -p "$model"
  cp "$carry/tokenizer.json" "$model/"
  cat >"$model/config.json" <<EOF
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": $hidden,
 "intermediate_size": $inter, "num_hidden_layers": $layers, "num_attention_heads": $heads,
 "num_key_value_heads": $kv, "head_dim": $((hidden / heads)), "hidden_act": "silu",
 "max_position_embeddings": $seq, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
 "tie_word_embeddings": false, "vocab_size": $vocab, "bos_token_id": 0, "eos_token_id": 0,
 "torch_dtype": "bfloat16"}
EOF
  cat >"$work/$name.yaml" <<EOF
model: {path: $model, from_scratch: true}
dataset: {path: $work/data/train.jsonl, format: chat, chat_template: chatml}
method: {type: full}
resources: {world_size: 1, gpus_per_rank: 1}
hyperparameters: {learning_rate: 1e-4, max_steps: $steps, micro_batch_size: $micro,
                  global_batch_size: $micro, sequence_length: $seq, seed: 1, precision: bf16}
export: {directory: $work/$name-export}
EOF
  log=$work/$name.log
  "$carry/tunefleet-trainer" train --spec "$work/$name.yaml" --rank 0 --world-size 1 \
    --rendezvous "file://$work/$name.store" --metrics-out "$work/$name.metrics" >"$log" 2>&1 ||
    { tail -n 30 "$log"; exit 1; }
  # Python: the same shape, a plain eager loop and torch.compile, and the
  # trainer's figures from its metrics (the steady state: the last half).
  "$python" - "$name" "$hidden" "$inter" "$layers" "$heads" "$kv" "$vocab" "$seq" "$micro" "$steps" \
    "$work/$name.metrics" <<'PY'
import json, sys, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM
name, hidden, inter, layers, heads, kv, vocab, seq, micro, steps = sys.argv[1], *map(int, sys.argv[2:11])
metrics = sys.argv[11]
head_dim = hidden // heads
cfg = LlamaConfig(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=kv, head_dim=head_dim, vocab_size=vocab,
                  max_position_embeddings=seq, tie_word_embeddings=False, attn_implementation="sdpa")
peak = 989e12
def flops_per_token(params):  # torchtitan: 6 N (N without the embedding) + 12 L H Q T
    return 6 * params + 12 * layers * heads * head_dim * seq
def row(loop, tps, params, mem):
    print(f"| {name} | {params / 1e6:.0f}M | {loop} | {tps:,.0f} | {100 * tps * flops_per_token(params) / peak:.1f}% | {mem:.1f} |")
torch.manual_seed(0)
def python_loop(compiled):
    torch.cuda.reset_peak_memory_stats()
    model = LlamaForCausalLM(cfg).to("cuda", torch.bfloat16)
    params = sum(p.numel() for p in model.parameters()) - model.model.embed_tokens.weight.numel()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    fwd = torch.compile(model) if compiled else model
    ids = torch.randint(0, vocab, (micro, seq), device="cuda")
    def step():
        loss = fwd(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
    for _ in range(3): step()
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(steps): step()
    torch.cuda.synchronize()
    tps = steps * micro * seq / (time.perf_counter() - t)
    mem = torch.cuda.max_memory_allocated() / 2**30
    del model, opt, fwd; torch.cuda.empty_cache()
    return tps, params, mem
tps, params, mem = python_loop(False)
samples = [json.loads(l) for l in open(metrics) if '"tokens_per_second"' in l]
ours = [s["tokens_per_second"] for s in samples[len(samples) // 2:] if s.get("tokens_per_second")]
mem_ours = max((s.get("gpu_memory_peak_bytes", 0) for s in samples), default=0) / 2**30
row("tunefleet (NCCL, bf16)", sum(ours) / max(len(ours), 1), params, mem_ours)
row("PyTorch eager", tps, params, mem)
try:
    tps_c, _, mem_c = python_loop(True)
    row("torch.compile", tps_c, params, mem_c)
except Exception as e:  # a compile failure is a finding, not the end of the check
    print(f"| {name} | | torch.compile | failed: {type(e).__name__} | | |")
PY
done
