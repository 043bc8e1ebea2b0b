#include "trainer/optim/optimizer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "trainer/optim/grad_clip.h"

namespace tunefleet {

OptimizerShardState SaveAdamWState(const AdamW& adamw, int64_t begin, const FlatParameters& params) {
  OptimizerShardState state;
  state.begin = begin;
  state.end = begin + adamw.master().numel();
  state.padded_numel = params.padded_numel();
  state.numel = params.numel();
  state.adamw_step = adamw.step_count();
  state.master = adamw.master();
  state.exp_avg = adamw.exp_avg();
  state.exp_avg_sq = adamw.exp_avg_sq();
  return state;
}

absl::Status LoadAdamWState(AdamW& adamw, int64_t begin, FlatParameters& params, const OptimizerShardState& state) {
  const int64_t numel = adamw.master().numel();
  if (state.begin != begin || state.end - state.begin != numel) {
    return absl::InternalError(absl::StrCat("restored optimizer range [", state.begin, ", ", state.end,
                                            ") is not this rank's [", begin, ", ", begin + numel, ")"));
  }
  try {
    torch::NoGradGuard no_grad;
    adamw.master().copy_(state.master);
    adamw.exp_avg().copy_(state.exp_avg);
    adamw.exp_avg_sq().copy_(state.exp_avg_sq);
    // Where master does not alias the weights (bf16 models), the weights
    // of this range follow the fp32 master, as after an update.
    params.values().narrow(0, begin, numel).copy_(adamw.master());
    adamw.set_step_count(state.adamw_step);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("restoring the optimizer state: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> LocalAdamW::FinishGradients() { return std::sqrt(SumOfSquares(params_.grads())); }

absl::Status LocalAdamW::Update(double learning_rate, double max_grad_norm, double grad_norm) {
  try {
    // bf16 gradients are clipped and applied in fp32, a chunk at a time.
    mutable_adamw().Step(params_.grads(), learning_rate, ClipFactor(grad_norm, max_grad_norm));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("AdamW step failed: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
