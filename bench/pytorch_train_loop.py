#!/usr/bin/env python3
"""The reference for bench/train_step_bench: what a user would run instead.

A plain PyTorch eager training loop over transformers' Llama (SDPA attention),
AdamW (foreach) and gradient clipping, on random tokens, for the same model
shapes, batch and steps as train_step_bench; LoRA through PEFT. Prints one
markdown row per case, in train_step_bench's columns (wall and CPU time), so that
bench/compare_pytorch.sh can put the two side by side.

  python bench/pytorch_train_loop.py --threads 1 --steps 10 --case small-lora
"""

import argparse
import sys
import time

import torch

# name: hidden, intermediate, layers, heads, kv_heads, vocab, seq_len, micro_batch, lora
# Kept equal to train_step_bench.cc's table.
CASES = {
    "demo": (128, 384, 4, 4, 2, 512, 128, 16, False),
    "small": (512, 1408, 8, 8, 4, 8192, 512, 4, False),
    "small-lora": (512, 1408, 8, 8, 4, 8192, 512, 4, True),
    "smollm2": (576, 1536, 30, 9, 3, 49152, 256, 4, False),
    "smollm2-lora": (576, 1536, 30, 9, 3, 49152, 256, 4, True),
}
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build(case, compile_model):
    from transformers import LlamaConfig, LlamaForCausalLM

    hidden, inter, layers, heads, kv, vocab, seq, micro, lora = CASES[case]
    config = LlamaConfig(
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        head_dim=hidden // heads,
        vocab_size=vocab,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    total = sum(p.numel() for p in model.parameters())
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, target_modules=LORA_TARGETS))
    model.train()
    if compile_model:
        model = torch.compile(model)
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0, foreach=True)
    ids = torch.randint(vocab, (micro, seq))
    labels = torch.randint(vocab, (micro, seq))
    return model, optimizer, params, ids, labels, total, trainable, seq, micro


def step(model, optimizer, params, ids, labels):
    logits = model(input_ids=ids).logits.float()
    loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=sorted(CASES), required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--min-seconds", type=float, default=0,
                        help="keep stepping past --steps until this much wall time is timed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, optimizer, params, ids, labels, total, trainable, seq, micro = build(args.case, args.compile)
    warmup = 3 if args.compile else 2
    for _ in range(warmup):
        step(model, optimizer, params, ids, labels)
    start = time.perf_counter()
    cpu_start = time.process_time()  # this process's CPU time: not other processes' load
    steps = 0
    while steps < args.steps or time.perf_counter() - start < args.min_seconds:
        step(model, optimizer, params, ids, labels)
        steps += 1
    per_step = (time.perf_counter() - start) / steps
    cpu_per_step = (time.process_time() - cpu_start) / steps
    label = "torch.compile" if args.compile else "PyTorch eager"
    print(f"| {args.case} | {label} | {total / 1e6:.2f}M | {trainable / 1e6:.2f}M | {seq} x {micro} "
          f"| {per_step * 1e3:.1f} | {cpu_per_step * 1e3:.1f} | {micro * seq / per_step:.0f} "
          f"| {micro * seq / cpu_per_step:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
