#pragma once
// The state behind `watch`'s live line, fed by GetJob polls and (when the
// server streams them) metric samples; pure, so the wording is unit-tested.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet::cli {

class ProgressLine {
 public:
  void Update(const v1::Job& job, absl::Time now);
  void Update(const v1::MetricSample& sample, absl::Time now);
  // "RUNNING  step 40/250  loss 1.2345  eval 1.3000  812 tok/s  ETA 2m30s"
  std::string Render() const;
  int64_t step() const { return step_; }

 private:
  void SeeStep(int64_t step, absl::Time now);

  std::string state_ = "QUEUED";
  int64_t step_ = 0;
  int64_t total_ = 0;
  std::optional<double> loss_, eval_loss_, tokens_per_second_;
  // Rate measured from the first step seen, so a resumed job's ETA is honest.
  std::optional<std::pair<int64_t, absl::Time>> first_seen_;
  absl::Time last_step_time_;
};

}  // namespace tunefleet::cli
