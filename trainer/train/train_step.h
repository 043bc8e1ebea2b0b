#pragma once
// One optimizer step, written as the algorithm: forward and backward over
// this rank's micro-batches, clip, update.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/model/llama_model.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/train/batch_tensors.h"

namespace tunefleet {

struct StepResult {
  double loss = 0;            // mean over the global batch's loss tokens
  double grad_norm = 0;       // before clipping
  int64_t tokens = 0;         // tokens this rank processed (padding excluded)
};

struct StepSettings {
  double learning_rate = 0;
  double max_grad_norm = 0;   // 0: no clipping
  int64_t global_loss_tokens = 1;  // loss tokens in the whole global batch, all ranks
};

absl::StatusOr<StepResult> TrainStep(CausalLM& model, FlatParameters& params, AdamW& optimizer,
                                     const std::vector<BatchTensors>& micro_batches, const StepSettings& settings);

// Mean loss over every loss token of `batches`, without gradients.
absl::StatusOr<double> EvaluateLoss(CausalLM& model, const std::vector<BatchTensors>& batches);

}  // namespace tunefleet
