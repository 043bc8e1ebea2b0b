#include "trainer/model/lora_linear.h"

#include <cmath>

#include "trainer/model/dense_linear.h"
#include "trainer/model/nf4_linear.h"

namespace tunefleet {

LoraLinear::LoraLinear(int64_t in_features, int64_t out_features, bool has_bias,
                       const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}, options));
  if (has_bias) bias = register_parameter("bias", torch::empty({out_features}, options));
}

torch::Tensor LoraLinear::forward(const torch::Tensor& x) {
  if (lora_A && !nf4_weight_ && (!lora_dropout_ || !lora_dropout_->is_training()) &&
      FusesLora(x, weight, lora_A->weight)) {
    return DenseLinearWithLora(x, weight, bias, lora_A->weight, lora_B->weight, scaling_);
  }
  torch::Tensor y;
  if (nf4_weight_) {
    y = Nf4Linear(x, *nf4_weight_, x.scalar_type());
    if (bias.defined()) y = y + bias;
  } else {
    y = DenseLinear(x, weight, bias);
  }
  if (!lora_A) return y;
  torch::Tensor h = lora_dropout_ ? lora_dropout_->forward(x) : x;
  return y + lora_B->forward(lora_A->forward(h)) * scaling_;
}

void LoraLinear::AddAdapter(int64_t rank, double alpha, double dropout, at::Generator& generator) {
  const int64_t in = in_features();
  const int64_t out = out_features();
  // The adapter's dtype and device are the base's (an NF4 base: float32 on
  // its device, as its scales).
  const torch::TensorOptions options =
      (nf4_weight_ ? nf4_weight_->absmax.options() : weight.options()).requires_grad(false);
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

void LoraLinear::QuantizeBaseToNf4(const torch::Device& device) {
  if (nf4_weight_) return;
  Nf4Tensor quantised = QuantizeNf4(weight);
  quantised.packed = quantised.packed.to(device);
  quantised.absmax = quantised.absmax.to(device);
  nf4_weight_ = std::move(quantised);
  parameters_.erase("weight");
  weight = torch::Tensor();
}

void LoraLinear::DequantizeBase(torch::Dtype dtype) {
  if (!nf4_weight_) return;
  weight = register_parameter("weight", DequantizeNf4(*nf4_weight_, dtype), /*requires_grad=*/false);
  nf4_weight_.reset();
}

void LoraLinear::MergeAdapter() {
  if (!lora_A) return;
  // A merged NF4 base is the dequantised base plus the adapter's delta.
  if (nf4_weight_) DequantizeBase(lora_A->weight.scalar_type());
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
