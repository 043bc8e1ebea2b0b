#include "trainer/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace tunefleet {

double LrSchedule::At(int64_t step) const {
  // The first update is step 1 of warmup: lr * 1/warmup. transformers'
  // Trainer makes its first update at lr 0 instead (its lambda at step 0, the
  // scheduler stepped after the optimizer); from step warmup on they agree.
  if (step < warmup_steps) return peak_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(1, total_steps - warmup_steps);
  const double progress = std::clamp(static_cast<double>(step - warmup_steps) / decay_steps, 0.0, 1.0);
  double factor = 1.0;
  switch (kind) {
    case v1::LR_SCHEDULE_LINEAR:
      factor = 1.0 - progress;
      break;
    case v1::LR_SCHEDULE_CONSTANT:
      return peak_lr;
    case v1::LR_SCHEDULE_COSINE:
    default:
      factor = 0.5 * (1.0 + std::cos(M_PI * progress));
      break;
  }
  return peak_lr * (min_lr_ratio + (1.0 - min_lr_ratio) * factor);
}

}  // namespace tunefleet
