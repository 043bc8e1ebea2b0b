#pragma once
// A running job's newest step time by phase (compute, comm, data, other) and
// its communication overlap, folded from rank 0's "step" samples (the
// step_*_seconds and step_comm_overlap fields of common/metric_keys.h) and
// exported as tunefleet_job_step_seconds{job,phase} and
// tunefleet_job_step_comm_overlap_ratio{job}. Bounded: four fixed phases a
// job; a value that is not a finite non-negative number (or for the overlap
// a fraction) is dropped and the last good one stays.

#include <map>
#include <optional>
#include <string>

#include "tunefleet/v1/job.pb.h"

namespace tunefleet::coordinator {

struct StepTime {
  std::map<std::string, double> seconds;  // by phase label; empty before the first step line
  std::optional<double> comm_overlap;     // data-parallel jobs only
};

// The phase labels, in the order they add up to a step.
inline constexpr const char* kStepPhases[] = {"compute", "comm", "data", "other"};

// Adds `sample` (rank 0's) to `time` if it is a "step" line.
void AddStepTime(const v1::MetricSample& sample, StepTime& time);

// `time` as JobProgress.step_time (what `tunefleet get` shows).
v1::StepTimeSplit ToStepTimeSplit(const StepTime& time);

}  // namespace tunefleet::coordinator
