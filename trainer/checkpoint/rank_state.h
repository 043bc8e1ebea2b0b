#pragma once
// What one rank hands the checkpoint at a step boundary, and what it gets
// back on resume. Plain data: the training loop fills it from its model,
// FlatParameters and ZeRO optimizer; the checkpoint never sees those types.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "trainer/checkpoint/trainer_state.h"

namespace tunefleet {

// The AdamW state of this rank's range [begin, end) of the flat parameter
// buffer padded to `padded_numel` (`numel` real elements).
struct OptimizerShardState {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t padded_numel = 0;
  int64_t numel = 0;
  int64_t adamw_step = 0;  // AdamW::step_count(), for bias correction
  torch::Tensor master;      // fp32, end - begin elements
  torch::Tensor exp_avg;     // fp32, end - begin elements
  torch::Tensor exp_avg_sq;  // fp32, end - begin elements
};

struct RankCheckpointState {
  int rank = 0;
  int world_size = 1;
  // The same on every rank of one save (e.g. "attempt-3-step-120"); see
  // CommitRequest::save_id.
  std::string save_id;
  // Full model weights under their Hugging Face names; written by the rank
  // that has them non-empty (rank 0 by convention), so export is a copy.
  std::vector<std::pair<std::string, torch::Tensor>> model_weights;
  // Absent on ranks that own no optimizer state (e.g. ranks > 0 at stage 0).
  std::optional<OptimizerShardState> optimizer_shard;
  TrainerState trainer_state;  // its step is the checkpoint's step
};

}  // namespace tunefleet
