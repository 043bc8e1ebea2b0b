#pragma once
// A token bucket per key (the coordinator keys it by job and rank): a rank
// may report `rate` samples a second on average and `burst` at once; samples
// past that are dropped, not refused, so a chatty trainer loses plot density
// and never its job. Keys whose bucket has refilled are forgotten (Prune), so
// the table holds only ranks that reported recently.
//
// Not thread-safe: the control plane calls it under its lock.

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"

namespace tunefleet::coordinator {

class SampleRateLimiter {
 public:
  // rate <= 0: no limit.
  SampleRateLimiter(double rate, double burst) : rate_(rate), burst_(burst < 1 ? 1 : burst) {}

  // True when `key` may report one more sample at `now` (and takes a token).
  bool Admit(const std::string& key, absl::Time now);
  // Forgets keys whose buckets are full again at `now`: they are as if new.
  void Prune(absl::Time now);
  size_t keys() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  double Refilled(const Bucket& bucket, absl::Time now) const;

  const double rate_;
  const double burst_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace tunefleet::coordinator
