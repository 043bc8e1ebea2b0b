#include "trainer/train/step_timer.h"

#include <algorithm>
#include <utility>

namespace tunefleet {

StepTimer::StepTimer(Seconds clock, Seconds blocked) : clock_(std::move(clock)), blocked_(std::move(blocked)) {}

void StepTimer::Start() {
  step_start_ = clock_();
  blocked_at_step_start_ = blocked_();
  current_ = StepTimes{};
}

void StepTimer::BeginData() { phase_start_ = clock_(); }

void StepTimer::EndData() { current_.data += clock_() - phase_start_; }

void StepTimer::BeginCompute() {
  phase_start_ = clock_();
  blocked_at_phase_start_ = blocked_();
}

// A wait inside compute (a stage 2 bucket waiting for room, the norm's sum)
// is communication: it counts there, once.
void StepTimer::EndCompute() {
  const double elapsed = clock_() - phase_start_;
  const double blocked = blocked_() - blocked_at_phase_start_;
  current_.compute += std::max(0.0, elapsed - blocked);
}

StepTimes StepTimer::EndStep() {
  const double now = clock_();
  const double blocked = blocked_();
  StepTimes times = current_;
  times.wall = now - step_start_;
  times.comm = blocked - blocked_at_step_start_;
  times.other = std::max(0.0, times.wall - times.compute - times.comm - times.data);
  step_start_ = now;
  blocked_at_step_start_ = blocked;
  current_ = StepTimes{};
  return times;
}

}  // namespace tunefleet
