#pragma once
// Metric samples of each job, kept in memory, bounded per job (the oldest go
// first). The control plane also saves them (Store::AppendMetrics, not synced
// on their own: high-rate, derived data whose full copy is each rank's
// metrics JSONL) and reloads a job's on first use after a restart.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet::coordinator {

class MetricHistory {
 public:
  explicit MetricHistory(size_t per_job_limit) : limit_(per_job_limit == 0 ? 1 : per_job_limit) {}

  void Add(const std::string& job, const v1::MetricSample& sample);
  // Samples from position `*cursor` on (positions count every sample ever
  // added to the job) with step > after_step; advances `*cursor`.
  std::vector<v1::MetricSample> Read(const std::string& job, int64_t* cursor, int64_t after_step) const;
  // Blocks until the job has a sample at `cursor` or later, or `timeout`.
  void Wait(const std::string& job, int64_t cursor, absl::Duration timeout) const;
  void Forget(const std::string& job);

 private:
  struct Series {
    int64_t first = 0;  // position of samples.front()
    std::deque<v1::MetricSample> samples;
  };
  const size_t limit_;
  mutable absl::Mutex mu_;
  mutable absl::CondVar added_;
  std::map<std::string, Series> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tunefleet::coordinator
