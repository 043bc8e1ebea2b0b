#pragma once
// A/B evaluation's statistics: two models scored on the same examples, the
// mean paired difference (candidate - baseline) and its bootstrap
// confidence interval (percentile method, resampling examples with
// replacement; Efron & Tibshirani, ch. 13). Pairing matters: both models see
// the same examples, so the per-example differences vary far less than
// either score, and the interval is the difference's, not two overlapping
// intervals. Torch-free.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tunefleet {

struct PairedDifference {
  int64_t n = 0;
  double baseline_mean = 0;
  double candidate_mean = 0;
  double difference = 0;  // candidate_mean - baseline_mean
  double ci_low = 0;
  double ci_high = 0;
  double confidence = 0.95;
};

struct BootstrapOptions {
  int resamples = 2000;
  double confidence = 0.95;
  uint64_t seed = 1;  // the same inputs and seed give the same interval
};

// INVALID_ARGUMENT when the two lists differ in length, are empty, hold a
// non-finite score, or the options are out of range (resamples in
// [100, 1000000], confidence in (0, 1)).
absl::StatusOr<PairedDifference> ComparePaired(const std::vector<double>& baseline,
                                               const std::vector<double>& candidate,
                                               const BootstrapOptions& options = {});

}  // namespace tunefleet
