#!/usr/bin/env python3
"""Attention as the trainer computes it (at::scaled_dot_product_attention,
causal) beside Hugging Face's eager attention (scores, causal mask, fp32
softmax, matmul), in the libtorch the trainer links (the venv's torch), one
thread, forward and backward, interleaved in one run. Prints a Markdown table.

    .venv/bin/python bench/attention_bench.py
"""
import time

import torch


def eager(q, k, v):
    scores = (q @ k.transpose(-2, -1)) / q.size(-1) ** 0.5
    allowed = torch.ones(q.size(-2), q.size(-2), dtype=torch.bool).tril()
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, -1, dtype=torch.float32).to(q.dtype) @ v


def sdpa(q, k, v):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)


def ms_per_step(fn, q, k, v, repeats=5):
    for _ in range(2):
        fn(q, k, v).sum().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        fn(q, k, v).sum().backward()
    return (time.perf_counter() - start) / repeats * 1000


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print("| shape B,H,T,D | eager fwd+bwd ms | SDPA fwd+bwd ms | speed-up | max abs diff (out) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    # The demo model, SmolLM2-135M at 512 tokens, a 1B Llama's heads at 1024.
    for b, h, t, d in [(8, 4, 128, 32), (4, 9, 512, 64), (2, 32, 1024, 64)]:
        q, k, v = [torch.randn(b, h, t, d, requires_grad=True) for _ in range(3)]
        slow = ms_per_step(eager, q, k, v)
        fast = ms_per_step(sdpa, q, k, v)
        with torch.no_grad():
            diff = (eager(q, k, v) - sdpa(q, k, v)).abs().max().item()
        print(f"| {b},{h},{t},{d} | {slow:.1f} | {fast:.1f} | {slow / fast:.2f}x | {diff:.2e} |")


if __name__ == "__main__":
    main()
