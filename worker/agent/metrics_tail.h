#pragma once
// Follows a trainer's metrics JSONL (trainer/metrics/metrics_stream.h),
// reading only what was appended, and turns each complete line into a
// sample: the event name, its step, its numeric and text fields, and keeps
// the newest figures of each kind (RankProgress) for /metrics.

#include <cstdint>
#include <string>
#include <vector>

#include "tunefleet/v1/job.pb.h"
#include "worker/agent/rank_progress.h"

namespace tunefleet::worker {

class MetricsTail {
 public:
  explicit MetricsTail(std::string path) : path_(std::move(path)) {}
  // Reads new complete lines; samples carry event, step, time, values, text
  // (job, attempt and rank are the caller's). Lines that do not parse are skipped.
  std::vector<v1::MetricSample> Poll();
  int64_t step() const { return progress_.step; }
  const RankProgress& progress() const { return progress_; }

 private:
  void Keep(const v1::MetricSample& sample);

  std::string path_;
  int64_t offset_ = 0;
  RankProgress progress_;
};

}  // namespace tunefleet::worker
