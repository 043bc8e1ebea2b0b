#pragma once
// The one place where the model's code depends on the libtorch version.
// Debian's CPU libtorch is 1.13.1; the GPU machine builds against 2.x. Every
// other file in trainer/model/ calls these helpers instead of testing
// TORCH_VERSION_MAJOR itself, so a new version means editing this file only.

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace tunefleet {
namespace compat {

// Softmax attention of q over k, v, all [B, H, T, D] (the kv heads already
// repeated to H), scaled by 1/sqrt(D). `allowed` is a bool [B, 1, T, T] mask,
// true where query t may attend key s; undefined means plain causal. Every row
// of `allowed` must keep at least its diagonal, so no row is fully masked.
inline torch::Tensor ScaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& allowed) {
#if TORCH_VERSION_MAJOR >= 2
  // The fused kernels (flash when causal with no mask, memory-efficient with one).
  if (!allowed.defined()) {
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                            /*is_causal=*/true);
  }
  return at::scaled_dot_product_attention(q, k, v, allowed, /*dropout_p=*/0.0, /*is_causal=*/false);
#else
  // 1.13 has only a private SDPA; this is Hugging Face's eager attention: scores
  // in the model dtype, softmax in fp32, cast back.
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  torch::Tensor mask = allowed;
  if (!mask.defined()) {
    const int64_t t = q.size(-2);
    mask = torch::ones({t, t}, torch::TensorOptions().dtype(torch::kBool).device(q.device())).tril();
  }
  scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  torch::Tensor probs = torch::softmax(scores, /*dim=*/-1, torch::kFloat32).to(q.scalar_type());
  return torch::matmul(probs, v);
#endif
}

// A seeded CPU generator: random init draws on the CPU so that every rank and
// every device (CPU or CUDA) gets bit-identical initial weights from one seed.
inline at::Generator MakeCpuGenerator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

}  // namespace compat
}  // namespace tunefleet
