#pragma once
// RMSNorm as Hugging Face's LlamaRMSNorm computes it: normalise in fp32, cast
// back to the input dtype, then scale by the weight (in the weight's dtype).

#include <torch/torch.h>

#include <cstdint>

namespace tunefleet {

class RMSNorm : public torch::nn::Module {
 public:
  RMSNorm(int64_t hidden_size, double eps, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // [hidden_size], registered as "weight"

 private:
  double eps_;
};

}  // namespace tunefleet
