#pragma once
// RMSNorm as Hugging Face's LlamaRMSNorm computes it: normalise in fp32, cast
// back to the input dtype, then scale by the weight (in the weight's dtype).
// On the CPU in fp32 it is one fused autograd node (a pass to read, a pass to
// write, each way); elsewhere (CUDA, bf16) Hugging Face's ops, one by one.

#include <torch/torch.h>

#include <cstdint>

namespace tunefleet {

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
// Hugging Face's ops one by one, everywhere.
torch::Tensor RmsNormOpByOp(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// How a norm is computed. Qwen3's per-head q and k norms stay op by op: a
// head's norm is scale-invariant, so the gradient along the head's vector is
// zero in exact arithmetic and rounding noise in floats; Adam's first step
// turns that noise's sign into +-lr, and only the same rounding as
// transformers' keeps a LoRA step equal to PEFT's (tests/reference/model).
// They cost as much as one hidden-size norm each, and only Qwen3 has them.
enum class RmsNormKernel { kFusedOnCpu, kOpByOp };

class RMSNorm : public torch::nn::Module {
 public:
  RMSNorm(int64_t hidden_size, double eps, const torch::TensorOptions& options,
          RmsNormKernel kernel = RmsNormKernel::kFusedOnCpu);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // [hidden_size], registered as "weight"

 private:
  double eps_;
  RmsNormKernel kernel_;
};

}  // namespace tunefleet
