#include "trainer/model/rms_norm.h"

namespace tunefleet {

RMSNorm::RMSNorm(int64_t hidden_size, double eps, const torch::TensorOptions& options) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({hidden_size}, options));
}

torch::Tensor RMSNorm::forward(const torch::Tensor& x) {
  // The mean of squares of bf16 activations loses too much in bf16.
  torch::Tensor h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(/*dim=*/-1, /*keepdim=*/true) + eps_);
  return weight * h.to(x.scalar_type());
}

}  // namespace tunefleet
