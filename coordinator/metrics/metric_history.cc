#include "coordinator/metrics/metric_history.h"

namespace tunefleet::coordinator {

void MetricHistory::Add(const std::string& job, const v1::MetricSample& sample) {
  absl::MutexLock lock(&mu_);
  Series& series = series_[job];
  series.samples.push_back(sample);
  while (series.samples.size() > limit_) {
    series.samples.pop_front();
    ++series.first;
  }
  added_.SignalAll();
}

std::vector<v1::MetricSample> MetricHistory::Read(const std::string& job, int64_t* cursor, int64_t after_step) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::MetricSample> out;
  auto it = series_.find(job);
  if (it == series_.end()) return out;
  const Series& series = it->second;
  const int64_t end = series.first + static_cast<int64_t>(series.samples.size());
  for (int64_t i = std::max(*cursor, series.first); i < end; ++i) {
    const v1::MetricSample& sample = series.samples[static_cast<size_t>(i - series.first)];
    if (sample.step() > after_step) out.push_back(sample);
  }
  *cursor = end;
  return out;
}

void MetricHistory::Wait(const std::string& job, int64_t cursor, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto it = series_.find(job);
    if (it != series_.end() && it->second.first + static_cast<int64_t>(it->second.samples.size()) > cursor) return;
    added_.WaitWithDeadline(&mu_, deadline);
  }
}

void MetricHistory::Forget(const std::string& job) {
  absl::MutexLock lock(&mu_);
  series_.erase(job);
}

}  // namespace tunefleet::coordinator
