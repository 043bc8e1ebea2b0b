"""MKL's sgemm (what torch's fp32 linear calls on the CPU) beside oneDNN's
matmul (torch.ops.mkldnn._linear_pointwise, what trainer/model/dense_linear
uses) for the three products of a linear layer, forward (x W^T), input
gradient (dY W) and weight gradient (dY^T X), at the shapes of the bench's
models. Process CPU time per product, so other load on the machine counts
less than in wall-clock time.

    .venv/bin/python bench/gemm_backends.py [--threads 1] [--repeats 8]
"""
import argparse
import time

import torch

# (tokens, in, out): demo (2048 tokens, hidden 128, MLP 384, vocabulary 512),
# small (2048 tokens, 512, 1408, vocabulary 8192), SmolLM2-135M (1024
# tokens, 576, 192 for k/v, 1536, vocabulary 49152) and a rank-16 LoRA pair.
SHAPES = [
    ("demo attention", 2048, 128, 128),
    ("demo MLP up", 2048, 128, 384),
    ("demo MLP down", 2048, 384, 128),
    ("small MLP up", 2048, 512, 1408),
    ("small MLP down", 2048, 1408, 512),
    ("small LM head", 2048, 512, 8192),
    ("SmolLM2 k/v", 1024, 576, 192),
    ("SmolLM2 MLP up", 1024, 576, 1536),
    ("SmolLM2 MLP down", 1024, 1536, 576),
    ("SmolLM2 LM head", 1024, 576, 49152),
    ("LoRA A (r=16)", 1024, 576, 16),
    ("LoRA B (r=16)", 1024, 16, 576),
]


def cpu_ms(fn, repeats):
    fn()
    fn()
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats * 1e3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    onednn = torch.ops.mkldnn._linear_pointwise
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU ms per product (process time)\n")
    print("| layer | tokens x in x out | product | MKL ms | oneDNN ms | MKL / oneDNN |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for name, m, k, n in SHAPES:
        x, w, dy = torch.randn(m, k), torch.randn(n, k), torch.randn(m, n)
        products = [
            ("forward", lambda: torch.nn.functional.linear(x, w), lambda: onednn(x, w, None, "none", [], "")),
            ("input grad", lambda: torch.mm(dy, w), lambda: onednn(dy, w.t(), None, "none", [], "")),
            ("weight grad", lambda: torch.mm(dy.t(), x), lambda: onednn(dy.t(), x.t(), None, "none", [], "")),
        ]
        for product, mkl, dnn in products:
            a, b = cpu_ms(mkl, args.repeats), cpu_ms(dnn, args.repeats)
            print(f"| {name} | {m} x {k} x {n} | {product} | {a:.2f} | {b:.2f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
