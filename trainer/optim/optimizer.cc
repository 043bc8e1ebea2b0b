#include "trainer/optim/optimizer.h"

#include <cmath>

#include "trainer/optim/grad_clip.h"

namespace tunefleet {

absl::StatusOr<double> LocalAdamW::FinishGradients() { return std::sqrt(SumOfSquares(params_.grads())); }

absl::Status LocalAdamW::Update(double learning_rate, double max_grad_norm, double grad_norm) {
  ClipByGlobalNorm(params_.grads(), grad_norm, max_grad_norm);
  (external_ != nullptr ? *external_ : adamw_).Step(params_.grads(), learning_rate);
  return absl::OkStatus();
}

}  // namespace tunefleet
