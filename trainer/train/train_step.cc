#include "trainer/train/train_step.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "trainer/model/loss.h"
#include "trainer/optim/grad_clip.h"

namespace tunefleet {

absl::StatusOr<StepResult> TrainStep(CausalLM& model, FlatParameters& params, StepOptimizer& optimizer,
                                     const std::vector<BatchTensors>& micro_batches, const StepSettings& settings) {
  StepResult result;
  try {
    model.train();
    params.ZeroGrads();
    result.loss_sum = torch::zeros({}, params.values().options().dtype(torch::kFloat64));
    if (settings.num_tasks > 0) {
      result.task_loss_sums = torch::zeros({settings.num_tasks}, params.values().options().dtype(torch::kFloat64));
    }
    for (std::size_t i = 0; i < micro_batches.size(); ++i) {
      const BatchTensors& batch = micro_batches[i];
      torch::Tensor hidden = model.ForwardHidden(batch.input_ids, batch.position_ids, batch.segment_ids);
      torch::Tensor loss_sum;
      if (settings.num_tasks > 0) {
        // Each row weighed by its task's loss_weight; each task's plain sum kept for reporting.
        torch::Tensor rows = RowLossSums(model.Logits(hidden), batch.labels);
        loss_sum = (rows * batch.row_loss_weights).sum();
        result.task_loss_sums.index_add_(0, batch.row_tasks, rows.detach().to(torch::kFloat64));
      } else {
        // The backward below sends it 1/tokens (fp32, as DivBackward computes it).
        loss_sum = model.LossSum(hidden, batch.labels,
                                 static_cast<float>(1.0 / static_cast<double>(settings.global_loss_tokens)));
      }
      // Gradients cross ranks only on the last micro-batch's backward.
      optimizer.BeginBackward(i + 1 == micro_batches.size());
      // Each token weighs 1/N of the global batch, however the batch is split.
      (loss_sum / static_cast<double>(settings.global_loss_tokens)).backward();
      // Summed on the device, in float64 (as a host double sum would be).
      result.loss_sum.add_(loss_sum.detach().to(torch::kFloat64));
      result.tokens += batch.real_tokens;
    }
    if (micro_batches.empty()) optimizer.BeginBackward(true);  // still meet the other ranks
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training step failed: ", e.what()));
  }
  auto norm = optimizer.FinishGradients();
  if (!norm.ok()) return norm.status();
  result.grad_norm = *norm;
  if (!std::isfinite(result.grad_norm)) {
    return absl::InternalError(absl::StrCat("gradient norm is ", result.grad_norm, ": training diverged"));
  }
  if (auto s = optimizer.Update(settings.learning_rate, settings.max_grad_norm, result.grad_norm); !s.ok()) return s;
  return result;
}

absl::StatusOr<StepResult> TrainStep(CausalLM& model, FlatParameters& params, AdamW& optimizer,
                                     const std::vector<BatchTensors>& micro_batches, const StepSettings& settings) {
  LocalAdamW local(params, optimizer);
  return TrainStep(model, params, local, micro_batches, settings);
}

double MeanLoss(const StepResult& result, const StepSettings& settings) {
  return result.loss_sum.item<double>() / static_cast<double>(settings.global_loss_tokens);
}

absl::StatusOr<LossSums> EvaluateLossSums(CausalLM& model, const std::vector<BatchTensors>& batches) {
  try {
    torch::NoGradGuard no_grad;
    model.eval();
    LossSums sums;
    for (const BatchTensors& batch : batches) {
      torch::Tensor hidden = model.ForwardHidden(batch.input_ids, batch.position_ids, batch.segment_ids);
      sums.sum += model.LossSum(hidden, batch.labels).item<double>();
      sums.count += batch.labels.ne(kIgnoreIndex).sum().item<int64_t>();
    }
    model.train();
    return sums;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("evaluation failed: ", e.what()));
  }
}

absl::StatusOr<double> EvaluateLoss(CausalLM& model, const std::vector<BatchTensors>& batches) {
  auto sums = EvaluateLossSums(model, batches);
  if (!sums.ok()) return sums.status();
  return sums->count == 0 ? 0.0 : sums->sum / static_cast<double>(sums->count);
}

}  // namespace tunefleet
