#include "coordinator/metrics/metric_history.h"

#include <algorithm>

namespace tunefleet::coordinator {

MetricHistory::MetricHistory(MetricHistoryLimits limits) : limits_(limits) {}

void MetricHistory::Drop(Series& series, size_t bytes) {
  series.bytes -= bytes;
  total_bytes_ -= bytes;
}

void MetricHistory::Thin(Series& series) {
  series.stride *= 2;
  std::deque<Entry> kept;
  size_t dropped = 0;
  for (size_t i = 0; i < series.entries.size(); ++i) {
    Entry& entry = series.entries[i];
    const bool newest = i + 1 == series.entries.size();
    if (entry.position % series.stride == 0 || newest) {
      kept.push_back(std::move(entry));
    } else {
      dropped += entry.bytes;
    }
  }
  if (dropped == 0 && kept.size() > 1) {  // nothing on the old grid to give: the oldest goes
    dropped = kept.front().bytes;
    kept.pop_front();
  }
  series.entries = std::move(kept);
  Drop(series, dropped);
}

void MetricHistory::Add(const std::string& job, const v1::MetricSample& sample) {
  absl::MutexLock lock(&mu_);
  Series& series = series_[job];
  // The newest sample is kept whatever the grid; once another arrives, it
  // stays only if it lies on the grid.
  if (!series.entries.empty() && series.entries.back().position % series.stride != 0) {
    Drop(series, series.entries.back().bytes);
    series.entries.pop_back();
  }
  Entry entry;
  entry.position = series.next++;
  entry.sample = sample;
  entry.bytes = sizeof(Entry) + entry.sample.SpaceUsedLong() - sizeof(v1::MetricSample);
  series.bytes += entry.bytes;
  total_bytes_ += entry.bytes;
  series.entries.push_back(std::move(entry));
  while (series.entries.size() > 1 &&
         (series.entries.size() > limits_.samples_per_job || series.bytes > limits_.bytes_per_job)) {
    Thin(series);
  }
  while (total_bytes_ > limits_.total_bytes) {
    auto largest = std::max_element(series_.begin(), series_.end(),
                                    [](const auto& a, const auto& b) { return a.second.bytes < b.second.bytes; });
    if (largest->second.entries.size() > 1) {
      Thin(largest->second);
    } else {  // every job is down to one sample: the largest goes whole
      Drop(largest->second, largest->second.bytes);
      largest->second.entries.clear();
    }
  }
  added_.SignalAll();
}

std::vector<v1::MetricSample> MetricHistory::Read(const std::string& job, int64_t* cursor, int64_t after_step) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::MetricSample> out;
  auto it = series_.find(job);
  if (it == series_.end()) return out;
  const Series& series = it->second;
  auto from = std::lower_bound(series.entries.begin(), series.entries.end(), *cursor,
                               [](const Entry& entry, int64_t position) { return entry.position < position; });
  for (; from != series.entries.end(); ++from) {
    if (from->sample.step() > after_step) out.push_back(from->sample);
  }
  *cursor = series.next;
  return out;
}

void MetricHistory::Wait(const std::string& job, int64_t cursor, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto it = series_.find(job);
    if (it != series_.end() && it->second.next > cursor) return;
    added_.WaitWithDeadline(&mu_, deadline);
  }
}

void MetricHistory::Forget(const std::string& job) {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(job);
  if (it == series_.end()) return;
  total_bytes_ -= it->second.bytes;
  series_.erase(it);
}

size_t MetricHistory::bytes() const {
  absl::MutexLock lock(&mu_);
  return total_bytes_;
}

size_t MetricHistory::samples(const std::string& job) const {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(job);
  return it == series_.end() ? 0 : it->second.entries.size();
}

}  // namespace tunefleet::coordinator
