#pragma once
// What one rank hands the checkpoint at a step boundary, and what it gets
// back on resume. Plain data: the training loop fills it from its model,
// FlatParameters and optimizer (OptimizerShardState is the optimizer's own
// record of its state); the checkpoint never sees those types.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "trainer/checkpoint/trainer_state.h"
#include "trainer/optim/optimizer_state.h"

namespace tunefleet {

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
