#include "coordinator/metrics/sample_rate_limiter.h"

#include <algorithm>

namespace tunefleet::coordinator {

double SampleRateLimiter::Refilled(const Bucket& bucket, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
  return std::min(burst_, bucket.tokens + elapsed * rate_);
}

bool SampleRateLimiter::Admit(const std::string& key, absl::Time now) {
  if (rate_ <= 0) return true;
  auto [it, added] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& bucket = it->second;
  if (!added) {
    bucket.tokens = Refilled(bucket, now);
    bucket.updated = now;
  }
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

void SampleRateLimiter::Prune(absl::Time now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = Refilled(it->second, now) >= burst_ ? buckets_.erase(it) : std::next(it);
  }
}

}  // namespace tunefleet::coordinator
