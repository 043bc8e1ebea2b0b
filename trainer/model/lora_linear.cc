#include "trainer/model/lora_linear.h"

#include <cmath>

namespace tunefleet {

LoraLinear::LoraLinear(int64_t in_features, int64_t out_features, bool has_bias,
                       const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}, options));
  if (has_bias) bias = register_parameter("bias", torch::empty({out_features}, options));
}

torch::Tensor LoraLinear::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::nn::functional::linear(x, weight, bias);
  if (!lora_A) return y;
  torch::Tensor h = lora_dropout_ ? lora_dropout_->forward(x) : x;
  return y + lora_B->forward(lora_A->forward(h)) * scaling_;
}

void LoraLinear::AddAdapter(int64_t rank, double alpha, double dropout, at::Generator& generator) {
  const int64_t in = in_features();
  const int64_t out = out_features();
  const torch::TensorOptions options = weight.options().requires_grad(false);
  torch::NoGradGuard no_grad;
  lora_A = register_module("lora_A", torch::nn::Linear(torch::nn::LinearOptions(in, rank).bias(false)));
  lora_B = register_module("lora_B", torch::nn::Linear(torch::nn::LinearOptions(rank, out).bias(false)));
  // torch::nn::Linear allocates fp32 on the CPU; move to the base's dtype and
  // device, then draw A from the caller's generator (reproducible on any device).
  lora_A->to(options.device(), options.dtype().toScalarType());
  lora_B->to(options.device(), options.dtype().toScalarType());
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  torch::Tensor a = torch::rand({rank, in}, generator, torch::kFloat32) * (2 * bound) - bound;
  lora_A->weight.copy_(a);
  lora_B->weight.zero_();
  if (dropout > 0.0) {
    lora_dropout_ = register_module("lora_dropout", torch::nn::Dropout(dropout));
  }
  scaling_ = alpha / static_cast<double>(rank);
}

void LoraLinear::MergeAdapter() {
  if (!lora_A) return;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor delta =
        torch::matmul(lora_B->weight.to(torch::kFloat32), lora_A->weight.to(torch::kFloat32));
    weight.copy_(weight.to(torch::kFloat32) + delta * scaling_);
  }
  unregister_module("lora_A");
  unregister_module("lora_B");
  if (lora_dropout_) unregister_module("lora_dropout");
  lora_A.reset();
  lora_B.reset();
  lora_dropout_.reset();
  scaling_ = 0.0;
}

}  // namespace tunefleet
