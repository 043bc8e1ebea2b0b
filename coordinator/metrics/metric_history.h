#pragma once
// Metric samples of each job, kept in memory for WatchJobMetrics and
// `tunefleet plot`. The control plane also saves them (Store::AppendMetrics,
// not synced on their own: high-rate, derived data whose full copy is each
// rank's metrics JSONL) and reloads a job's on first use after a restart.
//
// Bounded three ways (docs/security.md, "Limits"): samples per job, bytes per
// job, and bytes across all jobs. Past a bound a job's history is thinned, not
// cut: it keeps every Nth sample (N doubles each time: 2, 4, 8...) plus the
// newest, so a long run keeps evenly spaced points from its first step to its
// last (a plot still spans it). Past the global budget the largest history is
// thinned first, so one flooding job pays for itself before any other loses a point.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet::coordinator {

struct MetricHistoryLimits {
  size_t samples_per_job = 10000;
  size_t bytes_per_job = 16 * 1024 * 1024;
  size_t total_bytes = 512 * 1024 * 1024;
};

class MetricHistory {
 public:
  explicit MetricHistory(MetricHistoryLimits limits);

  void Add(const std::string& job, const v1::MetricSample& sample);
  // Samples from position `*cursor` on (positions count every sample ever
  // added to the job, thinned ones included) with step > after_step; advances `*cursor`.
  std::vector<v1::MetricSample> Read(const std::string& job, int64_t* cursor, int64_t after_step) const;
  // Blocks until the job has a sample at `cursor` or later, or `timeout`.
  void Wait(const std::string& job, int64_t cursor, absl::Duration timeout) const;
  void Forget(const std::string& job);

  // Memory held by the samples kept (their in-memory size), all jobs.
  size_t bytes() const;
  size_t samples(const std::string& job) const;

 private:
  struct Entry {
    int64_t position = 0;
    size_t bytes = 0;
    v1::MetricSample sample;
  };
  struct Series {
    int64_t next = 0;    // the position the next sample gets
    int64_t stride = 1;  // kept: positions that are multiples of it, and the newest
    size_t bytes = 0;
    std::deque<Entry> entries;
  };
  // Doubles the stride and drops what is off the new grid: at least one entry goes.
  void Thin(Series& series) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Drop(Series& series, size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const MetricHistoryLimits limits_;
  mutable absl::Mutex mu_;
  mutable absl::CondVar added_;
  std::map<std::string, Series> series_ ABSL_GUARDED_BY(mu_);
  size_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tunefleet::coordinator
