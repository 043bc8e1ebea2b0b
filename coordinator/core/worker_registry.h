#pragma once
// The worker registry: every known worker with its session, liveness (when it
// was last heard, heartbeats missed) and state (READY, CORDONED, DRAINING,
// DRAINED, LOST), and what occupies it: the running ranks placed there and
// the stopping ranks not yet confirmed dead. Because it counts each worker's
// busy GPUs and CPU slots as ranks come and go, a worker's free capacity is
// read without walking any job (the placement pass asks for all of them).
//
// Memory only, used under ControlPlane's lock: ControlPlane writes a
// worker's row to the Store first and applies the change here after.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/scheduler/scheduler.h"
#include "tunefleet/v1/worker_service.pb.h"

namespace tunefleet::coordinator {

// Ranks of a stopped attempt that a worker has not yet confirmed dead:
// their slots stay busy meanwhile, so nothing is oversubscribed.
struct StoppingRanks {
  std::string job;
  int64_t generation = 0;
  int32_t cpu_slots = 0;
  std::vector<int32_t> gpus;
};

struct WorkerEntry {
  v1::Worker worker;
  std::string session;
  absl::Time last_seen;
  int64_t missed_in_gap = 0;  // heartbeats already counted missed since last_seen
  std::vector<StoppingRanks> stopping;
  // Drained by its own SIGTERM (a restart, an upgrade), not by an operator:
  // READY again when it registers anew. In memory only: after a coordinator
  // restart such a worker stays DRAINED until uncordoned (the safe side).
  bool drained_itself = false;
};

class WorkerRegistry {
 public:
  using Map = std::map<std::string, WorkerEntry>;  // by name ("workers/{id}"), sorted

  // `heartbeat_interval`: what workers are told; missed heartbeats count in
  // it (zero or less: none are counted).
  explicit WorkerRegistry(absl::Duration heartbeat_interval) : heartbeat_interval_(heartbeat_interval) {}

  // nullptr when unknown.
  WorkerEntry* Find(const std::string& name);
  const WorkerEntry* Find(const std::string& name) const;
  // INVALID_ARGUMENT for a name that is not "workers/{id}", NOT_FOUND when unknown.
  absl::StatusOr<WorkerEntry*> Get(const std::string& name);
  // The worker of that name, added (empty) when unknown.
  WorkerEntry& FindOrAdd(const std::string& name);
  // Removes a worker and its counters; refused (false) while ranks run there.
  bool Remove(const std::string& name);
  size_t size() const { return workers_.size(); }
  Map::iterator begin() { return workers_.begin(); }
  Map::iterator end() { return workers_.end(); }
  Map::const_iterator begin() const { return workers_.begin(); }
  Map::const_iterator end() const { return workers_.end(); }
  // Workers after `name` in name order (ListWorkers' pages).
  Map::iterator After(const std::string& name) { return workers_.upper_bound(name); }

  // Liveness. A heartbeat is missed each time a live worker's silence passes
  // 1.5, 2.5, 3.5... intervals (the half absorbs jitter). Called by the
  // periodic check and, before last_seen moves, by Heard, so every crossing
  // counts exactly once.
  void CountMissedHeartbeats(WorkerEntry& worker, absl::Time now);
  // The worker spoke (a heartbeat, a registration): its silence ends now.
  void Heard(WorkerEntry& worker, absl::Time now);
  int64_t HeartbeatsMissed(const std::string& name) const;

  // What runs where: a rank of `job` placed on `worker`, on `gpus` (none: one
  // CPU slot). Every AddRank is matched by a RemoveRank of the same slots.
  void AddRank(const std::string& job, const std::string& worker, const std::vector<int32_t>& gpus);
  void RemoveRank(const std::string& job, const std::string& worker, const std::vector<int32_t>& gpus);
  // `visit(name)` for each job with a running rank on `worker`, by name; in
  // place, without a copy (every heartbeat asks, several times).
  template <typename Visit>
  void ForEachJobOn(const std::string& worker, Visit visit) const {
    auto it = usage_.find(worker);
    if (it == usage_.end()) return;
    for (const auto& [job, ranks] : it->second.ranks_of_job) visit(job);
  }
  bool HasRanks(const std::string& worker) const { return usage_.count(worker) > 0; }

  // Free capacity: the worker's slots less its running and stopping ranks';
  // schedulable only when READY. Reads counters, not jobs.
  scheduler::WorkerCapacity Capacity(const WorkerEntry& worker) const;
  // The worker as the API shows it: slots total and busy, the jobs there.
  v1::Worker View(const WorkerEntry& worker) const;

 private:
  // What a worker's running ranks hold.
  struct Usage {
    std::map<std::string, int32_t> ranks_of_job;  // job name -> its ranks here
    std::map<int32_t, int32_t> gpu_ranks;         // GPU index -> ranks using it
    int32_t cpu_ranks = 0;
  };

  const absl::Duration heartbeat_interval_;
  Map workers_;
  // Apart from workers_: ranks loaded after a coordinator restart may name a
  // worker that is not registered (yet, or any more).
  std::map<std::string, Usage> usage_;
  std::map<std::string, int64_t> heartbeats_missed_;
};

}  // namespace tunefleet::coordinator
