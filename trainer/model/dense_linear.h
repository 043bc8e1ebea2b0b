#pragma once
// y = x W^T + b for every dense projection of the model, with the GEMM
// backend chosen per product on the CPU. libtorch's fp32 linear calls MKL's
// sgemm, which on AMD processors runs its generic kernels; oneDNN's matmul
// (bundled in libtorch, reached through its `mkldnn::_linear_pointwise` op)
// is 2-81% faster there (mostly 8-27%) for the forward product and the input
// gradient of every shape the bench's models have; the weight gradient, where
// it is up to 2x slower, and products too small to matter stay on MKL
// (bench/gemm_backends.py; docs/performance.md, "The training step beside a
// PyTorch loop"). The
// choice depends only on shapes, never on timing, so results are
// reproducible run to run (bitwise resume). Elsewhere (CUDA, bf16, a
// libtorch without oneDNN) this is torch::nn::functional::linear.

#include <torch/torch.h>

namespace tunefleet {

torch::Tensor DenseLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

// DenseLinear(x, W, b) + s * x A^T B^T: a LoRA projection without dropout,
// as one autograd node whose GEMMs accumulate the adapter's product (no
// separate scale and sum passes). Only where FusesLora holds (fp32 CPU
// tensors, oneDNN present); elsewhere LoraLinear runs the plain ops.
bool FusesLora(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& lora_a);
torch::Tensor DenseLinearWithLora(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                  const torch::Tensor& lora_a, const torch::Tensor& lora_b, double scaling);

// Whether DenseLinear sends an [m, k] x [k, n] product to oneDNN: fp32 CPU
// tensors, oneDNN present, at least this many multiply-adds (below it, a
// call's fixed cost outweighs the faster kernel: LoRA's rank-16 products),
// and either many rows or a vocabulary-wide output. Decoding's few-row
// products through an MLP are 1.4-1.6x slower on oneDNN (16-64 x 576 x
// 1536); its LM head (16-64 x 576 x 49152) is 1.45x faster.
inline constexpr int64_t kOneDnnMinMultiplyAdds = int64_t{1} << 24;
inline constexpr int64_t kOneDnnMinRows = 256;
inline constexpr int64_t kOneDnnWideOutput = 16384;
bool UsesOneDnn(const torch::Tensor& a, int64_t m, int64_t k, int64_t n);

}  // namespace tunefleet
