#include "trainer/optim/adamw.h"

#include <algorithm>
#include <cmath>

namespace tunefleet {

AdamW::AdamW(const torch::Tensor& params, int64_t begin, int64_t decay_end, AdamWOptions options)
    : params_(params), options_(options) {
  torch::NoGradGuard no_grad;
  master_ = params_.scalar_type() == torch::kFloat32 ? params_ : params_.to(torch::kFloat32);
  exp_avg_ = torch::zeros_like(master_);
  exp_avg_sq_ = torch::zeros_like(master_);
  decay_len_ = std::clamp<int64_t>(decay_end - begin, 0, params_.numel());
}

void AdamW::Step(const torch::Tensor& grad, double lr) {
  torch::NoGradGuard no_grad;
  ++step_;
  const torch::Tensor g = grad.scalar_type() == torch::kFloat32 ? grad : grad.to(torch::kFloat32);
  const double b1 = options_.beta1, b2 = options_.beta2;
  exp_avg_.mul_(b1).add_(g, 1.0 - b1);
  exp_avg_sq_.mul_(b2).addcmul_(g, g, 1.0 - b2);
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bias2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  if (options_.weight_decay != 0 && decay_len_ > 0) {
    master_.narrow(0, 0, decay_len_).mul_(1.0 - lr * options_.weight_decay);
  }
  torch::Tensor denom = (exp_avg_sq_.sqrt() / std::sqrt(bias2)).add_(options_.epsilon);
  master_.addcdiv_(exp_avg_, denom, -lr / bias1);
  if (!master_.is_same(params_)) params_.copy_(master_);
}

int64_t AdamW::state_bytes() const {
  int64_t bytes = exp_avg_.nbytes() + exp_avg_sq_.nbytes();
  if (!master_.is_same(params_)) bytes += master_.nbytes();
  return bytes;
}

}  // namespace tunefleet
