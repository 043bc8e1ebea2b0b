#pragma once
// The placement pass: which QUEUED jobs start now, and where. It reads the
// job table's queue and the registry's free capacity, offers the scheduler
// (coordinator/scheduler/, pure) only the gangs that can change its answer,
// and remembers what it needs to skip the next pass when nothing that could
// change that answer has happened: a job queued or requeued, a slot freed, a
// worker added, a backoff or a reservation come due. It also holds the
// groups' running limits (a sweep runs at most max_running members at once).
//
// Memory only, used under ControlPlane's lock; ControlPlane writes the
// placements it decides (one transaction) and applies them.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "coordinator/core/job_table.h"
#include "coordinator/core/worker_registry.h"
#include "coordinator/scheduler/scheduler.h"

namespace tunefleet::coordinator {

class PlacementPass {
 public:
  explicit PlacementPass(scheduler::Options options) : options_(options) {}

  // Something changed that may let a queued job start: the next Decide runs.
  void Want() { wanted_ = true; }
  bool wanted() const { return wanted_; }
  // Whether a new job of `spec` may fit in what the last pass left free.
  // Slots only grow back through changes that call Want anyway (an end, a
  // freed rank, a worker registering or uncordoned), so this is an upper
  // bound: false means placing it now is impossible.
  bool MayFitNow(const v1::JobSpec& spec) const;
  // At most `max_running` of the group's members RUNNING at once (<= 0: no limit).
  void LimitGroup(const std::string& group, int32_t max_running);

  // The pass: nullopt when skipped (nothing could change the last answer),
  // else the scheduler's decision (no placements when nothing can start).
  // The free capacity it leaves is what MayFitNow reads next.
  std::optional<scheduler::Decision> Decide(const JobTable& jobs, const WorkerRegistry& workers, absl::Time now);
  // The decision's placements could not be saved: every job stays QUEUED,
  // and the next Decide runs whatever happens meanwhile.
  void NotSaved();

 private:
  // QUEUED members of groups at their running limit, not offered this pass;
  // the earliest submitted go first.
  std::set<std::string> HeldByGroupLimits(const JobTable& jobs) const;

  const scheduler::Options options_;
  bool wanted_ = false;
  // When a backoff ends or a reservation falls due: the pass must run again then.
  absl::Time next_timed_ = absl::InfinitePast();
  // Free schedulable GPUs and CPU slots after the last pass (MayFitNow).
  int64_t free_gpus_ = std::numeric_limits<int64_t>::max();
  int64_t free_cpu_ = std::numeric_limits<int64_t>::max();
  std::map<std::string, int32_t> group_limits_;  // JobGroup.max_running, when > 0
};

}  // namespace tunefleet::coordinator
