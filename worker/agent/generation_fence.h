#pragma once
// Fencing: each attempt of a job carries a generation number that only grows.
// The worker remembers the newest it has seen per job and refuses an
// assignment for an older one, so a delayed or replayed command of a stopped
// attempt can never start ranks beside (or instead of) the new attempt's.
// Stops name their generation and touch only that generation's ranks, so an
// old stop can never kill a new attempt either.

#include <cstdint>
#include <map>
#include <string>

namespace tunefleet::worker {

class GenerationFence {
 public:
  // True when `generation` is the newest seen for `job` (it becomes so).
  bool Admit(const std::string& job, int64_t generation) {
    int64_t& newest = newest_[job];
    if (generation < newest) return false;
    newest = generation;
    return true;
  }
  int64_t Newest(const std::string& job) const {
    auto it = newest_.find(job);
    return it == newest_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, int64_t> newest_;
};

}  // namespace tunefleet::worker
