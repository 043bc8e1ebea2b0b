#include "trainer/optim/optimizer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "trainer/optim/grad_clip.h"

namespace tunefleet {

absl::StatusOr<double> LocalAdamW::FinishGradients() { return std::sqrt(SumOfSquares(params_.grads())); }

absl::Status LocalAdamW::Update(double learning_rate, double max_grad_norm, double grad_norm) {
  try {
    // bf16 gradients: clipped and applied in fp32 (see WidenedToFp32).
    torch::Tensor grads = WidenedToFp32(params_.grads());
    ClipByGlobalNorm(grads, grad_norm, max_grad_norm);
    (external_ != nullptr ? *external_ : adamw_).Step(grads, learning_rate);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("AdamW step failed: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
