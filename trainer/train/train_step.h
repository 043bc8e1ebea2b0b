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

struct StepResult {
  double loss = 0;            // mean over the global batch's loss tokens
  double grad_norm = 0;       // before clipping
  int64_t tokens = 0;         // tokens this rank processed (padding excluded)
  int64_t global_tokens = 0;  // tokens every rank processed, together
};

struct StepSettings {
  double learning_rate = 0;
  double max_grad_norm = 0;   // 0: no clipping
  int64_t global_loss_tokens = 1;  // loss tokens in the whole global batch, all ranks
};

// With data parallelism the optimizer reduces the gradients over ranks (see
// trainer/dist/zero_optimizer.h); on one process it is LocalAdamW.
absl::StatusOr<StepResult> TrainStep(CausalLM& model, FlatParameters& params, StepOptimizer& optimizer,
                                     const std::vector<BatchTensors>& micro_batches, const StepSettings& settings);
// One process, AdamW over everything.
absl::StatusOr<StepResult> TrainStep(CausalLM& model, FlatParameters& params, AdamW& optimizer,
                                     const std::vector<BatchTensors>& micro_batches, const StepSettings& settings);

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
