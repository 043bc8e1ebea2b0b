#pragma once
// What the agent's single-threaded loop publishes for other threads (the log
// service and /metrics): which ranks are live, and per-rank figures. The loop
// writes it after each pass; readers take a copy under the lock.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "worker/agent/rank_progress.h"

namespace tunefleet::worker {

struct RankFigures {
  std::string job;
  int32_t rank = 0;
  RankProgress progress;
  std::vector<std::string> gpu_uuids;  // the GPUs the rank was given; empty on a CPU slot
};

struct BoardSnapshot {
  std::set<std::tuple<std::string, int64_t, int32_t>> live;  // job, attempt, rank
  std::map<int, int64_t> exits_by_code;                     // since start
  std::map<std::tuple<std::string, int64_t, int32_t>, RankFigures> ranks;  // live ranks only
};

class WorkerStatusBoard {
 public:
  void Publish(BoardSnapshot snapshot) {
    absl::MutexLock lock(&mu_);
    snapshot_ = std::move(snapshot);
  }
  BoardSnapshot Read() const {
    absl::MutexLock lock(&mu_);
    return snapshot_;
  }
  bool IsLive(const std::string& job, int64_t attempt, int32_t rank) const {
    absl::MutexLock lock(&mu_);
    return snapshot_.live.count({job, attempt, rank}) > 0;
  }

 private:
  mutable absl::Mutex mu_;
  BoardSnapshot snapshot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tunefleet::worker
