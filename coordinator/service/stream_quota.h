#pragma once
// Long-lived server streams (WatchJobEvents, WatchJobMetrics, ReadJobLogs)
// each hold a gRPC thread for as long as the client stays: without a bound,
// one user opening streams in a loop grows the coordinator's threads and
// memory without end. A stream takes a lease before its loop and gives it
// back when it ends; the N+1th of one caller, or of everyone, is refused
// RESOURCE_EXHAUSTED naming the limit (docs/security.md, "Limits").

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tunefleet::coordinator {

struct StreamLimits {
  int per_caller = 32;  // --max-streams-per-user
  int total = 512;      // --max-streams
};

class StreamQuota {
 public:
  explicit StreamQuota(StreamLimits limits) : limits_(limits) {}

  // Held while a stream runs; the slot is free again when it is destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : quota_(other.quota_), caller_(std::move(other.caller_)) { other.quota_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

   private:
    friend class StreamQuota;
    Lease(StreamQuota* quota, std::string caller) : quota_(quota), caller_(std::move(caller)) {}
    StreamQuota* quota_;
    std::string caller_;
  };

  // `caller`: who asks (Principal::Display()).
  absl::StatusOr<Lease> Acquire(const std::string& caller);
  int open() const;

 private:
  void Release(const std::string& caller);

  const StreamLimits limits_;
  mutable absl::Mutex mu_;
  std::map<std::string, int> by_caller_ ABSL_GUARDED_BY(mu_);
  int total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tunefleet::coordinator
