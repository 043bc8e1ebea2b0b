#pragma once
// Learning rate per optimizer step: linear warmup, then cosine, linear or
// constant decay to min_lr_ratio * peak (as transformers' schedulers).

#include <cstdint>

#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

struct LrSchedule {
  double peak_lr = 0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr_ratio = 0;
  v1::LrSchedule kind = v1::LR_SCHEDULE_COSINE;

  // The learning rate for optimizer step `step` (0-based: the first update uses step 0).
  double At(int64_t step) const;
};

}  // namespace tunefleet
