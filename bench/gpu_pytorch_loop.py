#!/usr/bin/env python3
"""The GPU check's reference and its table rows (scripts/gpu_check.sh).

  loop:    a plain PyTorch eager training loop (transformers' LlamaForCausalLM,
           SDPA, AdamW foreach, clipping; LoRA through PEFT), or the same under
           torch.compile, on random tokens of one shape; prints one table row.
  metrics: the row of tunefleet's trainer from its --metrics-out file (the
           steady state: the last half of the steps).
  agree:   compares the per-step losses of two trainer runs (CPU against GPU).

MFU follows torchtitan: 6 N + 12 L H Q T FLOPs per token (N without the
embedding), against 989 TFLOP/s dense bf16; LoRA rows print no MFU (their
backward skips the frozen weights' gradients, so 6 N overstates the work).
"""

import argparse
import json
import sys
import time

PEAK_FLOPS = 989e12


def shape_args(p):
    p.add_argument("--name", required=True)
    p.add_argument("--hidden", type=int, required=True)
    p.add_argument("--inter", type=int, required=True)
    p.add_argument("--layers", type=int, required=True)
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--kv", type=int, required=True)
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--lora", type=int, default=0, help="LoRA rank; 0 trains every weight")


def non_embedding_params(a):
    head_dim = a.hidden // a.heads
    attn = a.hidden * head_dim * (a.heads * 2 + a.kv * 2)
    mlp = 3 * a.hidden * a.inter
    return a.layers * (attn + mlp + 2 * a.hidden) + a.hidden + a.hidden * a.vocab  # + final norm, lm_head


def row(a, loop, tokens_per_s, peak_gib):
    n = non_embedding_params(a)
    flops = 6 * n + 12 * a.layers * a.hidden * a.seq
    mfu = "" if a.lora else f"{100 * tokens_per_s * flops / PEAK_FLOPS:.1f}%"
    method = f"LoRA r={a.lora}" if a.lora else "full"
    print(f"| {a.name} | {method} | {loop} | {tokens_per_s:,.0f} | {mfu} | {peak_gib:.1f} |", flush=True)


def loop(a):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(hidden_size=a.hidden, intermediate_size=a.inter, num_hidden_layers=a.layers,
                      num_attention_heads=a.heads, num_key_value_heads=a.kv, head_dim=a.hidden // a.heads,
                      vocab_size=a.vocab, max_position_embeddings=a.seq, tie_word_embeddings=False,
                      attn_implementation="sdpa")
    torch.manual_seed(0)
    torch.cuda.reset_peak_memory_stats()
    model = LlamaForCausalLM(cfg).to("cuda", torch.bfloat16)
    if a.lora:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=a.lora, lora_alpha=2 * a.lora,
                                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, foreach=True)
    fwd = torch.compile(model) if a.compile else model
    ids = torch.randint(0, a.vocab, (a.micro, a.seq), device="cuda")

    def step():
        loss = fwd(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    torch.cuda.synchronize()
    tokens_per_s = a.steps * a.micro * a.seq / (time.perf_counter() - start)
    row(a, "torch.compile" if a.compile else "PyTorch eager", tokens_per_s,
        torch.cuda.max_memory_allocated() / 2**30)


def metrics(a):
    samples = [json.loads(line) for line in open(a.file) if '"tokens_per_second"' in line]
    steady = [s["tokens_per_second"] for s in samples[len(samples) // 2:] if s.get("tokens_per_second")]
    peak = max((s.get("gpu_memory_peak_bytes", 0) for s in samples), default=0) / 2**30
    if not steady:
        print(f"| {a.name} | | tunefleet | no step metrics in {a.file} | | |")
        return
    row(a, "tunefleet (NCCL, bf16)", sum(steady) / len(steady), peak)


def agree(a):
    def losses(path):
        return {s["step"]: s["train_loss"] for s in map(json.loads, open(path))
                if s.get("event") == "step" and "train_loss" in s}
    x, y = losses(a.a), losses(a.b)
    steps = sorted(set(x) & set(y))
    if not steps:
        print(f"agree: no common steps between {a.a} and {a.b}")
        sys.exit(1)
    worst = max(abs(x[s] - y[s]) / max(abs(x[s]), 1e-12) for s in steps)
    print(f"{a.label}: {len(steps)} steps, losses {x[steps[0]]:.6f}..{x[steps[-1]]:.6f}, "
          f"largest relative difference {worst:.2e} (limit {a.limit:.0e})")
    sys.exit(0 if worst <= a.limit else 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("loop")
    shape_args(p)
    p.add_argument("--micro", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--compile", action="store_true")
    p.set_defaults(run=loop)
    p = sub.add_parser("metrics")
    shape_args(p)
    p.add_argument("--file", required=True)
    p.set_defaults(run=metrics)
    p = sub.add_parser("agree")
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--limit", type=float, required=True)
    p.set_defaults(run=agree)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
