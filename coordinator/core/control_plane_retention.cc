// What leaves the control plane's memory, and how it is still served.
//
// A finished job past --finished-job-retention leaves every in-memory table
// (jobs, order, request ids, metric history); it stays in the Store, from
// which GetJob, ListJobs, events, metrics, logs and checkpoints read it, so
// the coordinator's memory follows the jobs that are active or recent, not
// every job ever submitted. A worker LOST past --gone-worker-retention leaves
// the registry, the Store and /metrics (its series are built from the registry).

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "coordinator/core/control_plane.h"

namespace tunefleet::coordinator {

void ControlPlane::ForgetPastRetention() {
  const absl::Time now = Now();
  for (const std::string& name : jobs_.ForgetEndedBy(now - options_.finished_job_retention)) {
    history_.Forget(name);
    history_loaded_.erase(name);
  }
  std::vector<std::pair<std::string, absl::Duration>> gone;  // name, how long LOST
  for (const auto& [name, worker] : workers_) {
    if (worker.worker.state() == v1::WORKER_STATE_LOST && now - worker.last_seen >= options_.gone_worker_retention &&
        !workers_.HasRanks(name)) {
      gone.emplace_back(name, now - worker.last_seen);
    }
  }
  for (const auto& [name, lost_for] : gone) {
    if (auto s = store_->DeleteWorker(name); !s.ok()) {
      Log("coordinator", absl::StrCat("WARNING: ", name, " could not be forgotten (next pass): ", s.ToString()));
      continue;
    }
    Log("coordinator", absl::StrCat(name, " forgotten: LOST for ", absl::FormatDuration(lost_for)));
    workers_.Remove(name);
  }
}

absl::StatusOr<store::StoredJob> ControlPlane::StoredJob(const std::string& name) {
  if (auto s = CheckResourceName(name, "jobs"); !s.ok()) return s;
  return store_->LoadJob(name);
}

absl::StatusOr<LogSource> ControlPlane::LogSourceOf(const std::string& name, int64_t attempt,
                                                    const std::vector<std::string>& rank_workers,
                                                    int32_t rank) const {
  if (rank_workers.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(name, " has not run yet (or ran before a coordinator restart)"));
  }
  if (rank < 0 || rank >= static_cast<int32_t>(rank_workers.size())) {
    return absl::InvalidArgumentError(absl::StrCat("rank: ", rank, " is not in [0, ", rank_workers.size(), ")"));
  }
  const std::string& worker_name = rank_workers[rank];
  const WorkerEntry* worker = workers_.Find(worker_name);
  if (worker == nullptr || worker->worker.resources().log_address().empty()) {
    return absl::UnavailableError(absl::StrCat(worker_name, " serves no logs"));
  }
  return LogSource{worker->worker.resources().log_address(), attempt,
                   worker_name.substr(worker_name.find('/') + 1)};
}

}  // namespace tunefleet::coordinator
