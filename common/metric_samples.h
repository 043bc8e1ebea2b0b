#pragma once
// Reading the trainer's metric samples as they reach the coordinator (see
// common/metric_keys.h for the fields).

#include "common/metric_keys.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet {

// A "checkpoint" sample whose checkpoint is committed: the flag as the
// trainer writes it (a number, nonzero) or as a JSON boolean ("true"). A
// sample without the flag, or with 0/"false", is not: a reader that trusted
// it would resume from a checkpoint that is not there.
inline bool CheckpointCommitted(const v1::MetricSample& sample) {
  if (sample.event() != metric_keys::kCheckpointEvent) return false;
  if (auto it = sample.values().find(metric_keys::kCommitted); it != sample.values().end()) return it->second != 0;
  if (auto it = sample.text().find(metric_keys::kCommitted); it != sample.text().end()) return it->second == "true";
  return false;
}

}  // namespace tunefleet
