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

void AdamW::Step(const torch::Tensor& grad, double lr, double grad_scale) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bias2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  const bool decay = options_.weight_decay != 0 && decay_len_ > 0;
  const bool separate_master = !master_.is_same(params_);
  const int64_t numel = master_.numel();
  for (int64_t begin = 0; begin < numel; begin += kChunkElements) {
    const int64_t len = std::min(kChunkElements, numel - begin);
    torch::Tensor g = grad.narrow(0, begin, len);
    if (g.scalar_type() != torch::kFloat32) g = g.to(torch::kFloat32);
    // An fp32 chunk is a view: clipped in place, as clip_grad_norm_ leaves it.
    if (grad_scale != 1.0) g.mul_(grad_scale);
    torch::Tensor m = exp_avg_.narrow(0, begin, len);
    torch::Tensor v = exp_avg_sq_.narrow(0, begin, len);
    torch::Tensor p = master_.narrow(0, begin, len);
    m.mul_(b1).add_(g, 1.0 - b1);
    v.mul_(b2).addcmul_(g, g, 1.0 - b2);
    if (decay && begin < decay_len_) {
      p.narrow(0, 0, std::min(len, decay_len_ - begin)).mul_(1.0 - lr * options_.weight_decay);
    }
    const torch::Tensor denom = v.sqrt().div_(std::sqrt(bias2)).add_(options_.epsilon);
    p.addcdiv_(m, denom, -lr / bias1);
    if (separate_master) params_.narrow(0, begin, len).copy_(p);
  }
}

int64_t AdamW::state_bytes() const {
  int64_t bytes = exp_avg_.nbytes() + exp_avg_sq_.nbytes();
  if (!master_.is_same(params_)) bytes += master_.nbytes();
  return bytes;
}

}  // namespace tunefleet
