#pragma once
// Follows a trainer's metrics JSONL (trainer/metrics/metrics_stream.h),
// reading only what was appended, and turns each complete line into a
// sample: the event name, its step, its numeric and text fields.

#include <cstdint>
#include <string>
#include <vector>

#include "tunefleet/v1/job.pb.h"

namespace tunefleet::worker {

class MetricsTail {
 public:
  explicit MetricsTail(std::string path) : path_(std::move(path)) {}
  // Reads new complete lines; samples carry event, step, time, values, text
  // (job, attempt and rank are the caller's). Lines that do not parse are skipped.
  std::vector<v1::MetricSample> Poll();
  int64_t step() const { return step_; }
  double train_loss() const { return train_loss_; }
  double tokens_per_second() const { return tokens_per_second_; }

 private:
  std::string path_;
  int64_t offset_ = 0;
  int64_t step_ = 0;
  double train_loss_ = 0;
  double tokens_per_second_ = 0;
};

}  // namespace tunefleet::worker
