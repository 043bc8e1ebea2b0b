#include "coordinator/metrics/step_time.h"

#include <cmath>
#include <iterator>

#include "common/metric_keys.h"

namespace tunefleet::coordinator {
namespace {

// kStepPhases' field names, in the same order.
constexpr const char* kPhaseKeys[] = {metric_keys::kStepComputeSeconds, metric_keys::kStepCommSeconds,
                                      metric_keys::kStepDataSeconds, metric_keys::kStepOtherSeconds};
static_assert(std::size(kPhaseKeys) == std::size(kStepPhases));

const double* Value(const v1::MetricSample& sample, const char* key) {
  auto found = sample.values().find(key);
  return found == sample.values().end() ? nullptr : &found->second;
}

}  // namespace

void AddStepTime(const v1::MetricSample& sample, StepTime& time) {
  if (sample.event() != metric_keys::kStepEvent) return;
  for (size_t i = 0; i < std::size(kStepPhases); ++i) {
    const double* v = Value(sample, kPhaseKeys[i]);
    if (v != nullptr && std::isfinite(*v) && *v >= 0) time.seconds[kStepPhases[i]] = *v;
  }
  if (const double* v = Value(sample, metric_keys::kStepCommOverlap); v != nullptr && *v >= 0 && *v <= 1) {
    time.comm_overlap = *v;
  }
}

v1::StepTimeSplit ToStepTimeSplit(const StepTime& time) {
  auto seconds = [&time](const char* phase) {
    auto found = time.seconds.find(phase);
    return found == time.seconds.end() ? 0.0 : found->second;
  };
  static_assert(std::size(kStepPhases) == 4, "a phase added here needs its StepTimeSplit field");
  v1::StepTimeSplit split;
  split.set_compute_seconds(seconds(kStepPhases[0]));
  split.set_comm_seconds(seconds(kStepPhases[1]));
  split.set_data_seconds(seconds(kStepPhases[2]));
  split.set_other_seconds(seconds(kStepPhases[3]));
  if (time.comm_overlap) split.set_comm_overlap(*time.comm_overlap);
  return split;
}

}  // namespace tunefleet::coordinator
