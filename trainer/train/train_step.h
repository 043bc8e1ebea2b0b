#pragma once
// One optimizer step, written as the algorithm: forward and backward over
// this rank's micro-batches, clip, update.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/model/llama_model.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/batch_tensors.h"

namespace tunefleet {

// This rank's part of a step. The loss stays on the device: reading it is
// a host sync, done once per step, where the ranks sum it.
struct StepResult {
  torch::Tensor loss_sum;     // summed token losses of this rank's micro-batches (float64 scalar, on the device)
  // Multi-task (settings.num_tasks > 0): each task's summed token losses,
  // unweighted, float64 [num_tasks] on the device; loss_sum is then the
  // loss_weight-weighted sum that was optimised. Undefined otherwise.
  torch::Tensor task_loss_sums;
  double grad_norm = 0;       // before clipping, over every rank
  int64_t tokens = 0;         // tokens this rank processed (padding excluded)
};

struct StepSettings {
  double learning_rate = 0;
  double max_grad_norm = 0;   // 0: no clipping
  int64_t global_loss_tokens = 1;  // loss tokens in the whole global batch, all ranks
  // Multi-task: the number of tasks (every batch carries row_tasks and
  // row_loss_weights); 0: one dataset, the plain loss.
  int num_tasks = 0;
};

// With data parallelism the optimizer reduces the gradients over ranks (see
// trainer/dist/zero_optimizer.h); on one process it is LocalAdamW. The
// global batch's mean loss is the sum over ranks of loss_sum divided by
// settings.global_loss_tokens (see MeanLoss for one process).
absl::StatusOr<StepResult> TrainStep(CausalLM& model, FlatParameters& params, StepOptimizer& optimizer,
                                     const std::vector<BatchTensors>& micro_batches, const StepSettings& settings);
// One process, AdamW over everything.
absl::StatusOr<StepResult> TrainStep(CausalLM& model, FlatParameters& params, AdamW& optimizer,
                                     const std::vector<BatchTensors>& micro_batches, const StepSettings& settings);
// One process: the step's mean loss over the batch's loss tokens (a host sync).
double MeanLoss(const StepResult& result, const StepSettings& settings);

struct LossSums {
  double sum = 0;     // summed token losses
  int64_t count = 0;  // loss tokens
};
// Summed loss over every loss token of `batches`, without gradients; ranks
// add theirs for the global mean.
absl::StatusOr<LossSums> EvaluateLossSums(CausalLM& model, const std::vector<BatchTensors>& batches);
// Mean loss over every loss token of `batches`, without gradients.
absl::StatusOr<double> EvaluateLoss(CausalLM& model, const std::vector<BatchTensors>& batches);

}  // namespace tunefleet
