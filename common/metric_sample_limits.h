#pragma once
// The bounds of one metric sample (a trainer's metrics-stream line as a
// worker reports it; docs/security.md, "Limits"). The coordinator refuses a
// report holding a sample past them (INVALID_ARGUMENT naming the limit); the
// worker drops such a sample before sending, so one bad line cannot wedge its
// report queue. Every real sample is a few hundred bytes: a step's dozen
// figures, or a checkpoint's path (PATH_MAX) and flags.

#include <cstdint>

#include "absl/status/status.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet::metric_sample_limits {

inline constexpr int64_t kMaxSampleBytes = 16 * 1024;  // serialized
inline constexpr int kMaxEntries = 64;                  // values and text together
inline constexpr int64_t kMaxKeyBytes = 128;
inline constexpr int64_t kMaxTextBytes = 8 * 1024;  // one text value: a checkpoint path and more
inline constexpr int64_t kMaxEventBytes = 64;

// OK, or INVALID_ARGUMENT naming the field and the limit it passes.
absl::Status CheckSample(const v1::MetricSample& sample);

}  // namespace tunefleet::metric_sample_limits
