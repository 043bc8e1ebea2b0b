#include "trainer/train/train_step.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "trainer/model/loss.h"
#include "trainer/optim/grad_clip.h"

namespace tunefleet {

absl::StatusOr<StepResult> TrainStep(CausalLM& model, FlatParameters& params, AdamW& optimizer,
                                     const std::vector<BatchTensors>& micro_batches, const StepSettings& settings) {
  try {
    StepResult result;
    model.train();
    params.ZeroGrads();
    double loss_sum = 0;
    for (const BatchTensors& batch : micro_batches) {
      torch::Tensor logits = model.Forward(batch.input_ids, batch.position_ids, batch.segment_ids);
      LossOutput loss = ComputeLoss(logits, batch.labels);
      // Each token weighs 1/N of the global batch, however the batch is split.
      (loss.sum / static_cast<double>(settings.global_loss_tokens)).backward();
      loss_sum += loss.sum.item<double>();
      result.tokens += batch.real_tokens;
    }
    result.grad_norm = std::sqrt(SumOfSquares(params.grads()));
    if (!std::isfinite(result.grad_norm)) {
      return absl::InternalError(absl::StrCat("gradient norm is ", result.grad_norm, ": training diverged"));
    }
    ClipByGlobalNorm(params.grads(), result.grad_norm, settings.max_grad_norm);
    optimizer.Step(params.grads(), settings.learning_rate);
    result.loss = loss_sum / static_cast<double>(settings.global_loss_tokens);
    return result;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training step failed: ", e.what()));
  }
}

absl::StatusOr<double> EvaluateLoss(CausalLM& model, const std::vector<BatchTensors>& batches) {
  try {
    torch::NoGradGuard no_grad;
    model.eval();
    double sum = 0;
    int64_t count = 0;
    for (const BatchTensors& batch : batches) {
      LossOutput loss = ComputeLoss(model.Forward(batch.input_ids, batch.position_ids, batch.segment_ids),
                                    batch.labels);
      sum += loss.sum.item<double>();
      count += loss.count.item<int64_t>();
    }
    model.train();
    return count == 0 ? 0.0 : sum / static_cast<double>(count);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("evaluation failed: ", e.what()));
  }
}

}  // namespace tunefleet
