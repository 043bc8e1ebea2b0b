#pragma once
// An optimizer's state as it goes into a checkpoint and comes back: plain
// data, so the checkpoint stores it without knowing any optimizer type.

#include <cstdint>

#include <torch/types.h>

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

}  // namespace tunefleet
