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
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const JobEntry& entry = it->second;
    if (!jobs::IsTerminal(entry.job.state()) ||
        now - FromProtoTime(entry.job.end_time()) < options_.finished_job_retention) {
      ++it;
      continue;
    }
    job_order_.erase(entry.order);
    // A retry of its CreateJob after this is a new submission: the retention
    // is also the window in which a request_id deduplicates.
    if (!entry.request_id.empty()) request_ids_.erase(entry.request_id);
    history_.Forget(it->first);
    history_loaded_.erase(it->first);
    ++jobs_forgotten_;
    it = jobs_.erase(it);
  }
  for (auto it = workers_.begin(); it != workers_.end();) {
    const WorkerEntry& worker = it->second;
    if (worker.worker.state() != v1::WORKER_STATE_LOST || now - worker.last_seen < options_.gone_worker_retention ||
        !JobNamesOn(it->first).empty()) {
      ++it;
      continue;
    }
    if (auto s = store_->DeleteWorker(it->first); !s.ok()) {
      Log("coordinator", absl::StrCat("WARNING: ", it->first, " could not be forgotten (next pass): ", s.ToString()));
      ++it;
      continue;
    }
    Log("coordinator", absl::StrCat(it->first, " forgotten: LOST for ", absl::FormatDuration(now - worker.last_seen)));
    heartbeats_missed_.erase(it->first);
    it = workers_.erase(it);
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
  auto worker = workers_.find(worker_name);
  if (worker == workers_.end() || worker->second.worker.resources().log_address().empty()) {
    return absl::UnavailableError(absl::StrCat(worker_name, " serves no logs"));
  }
  return LogSource{worker->second.worker.resources().log_address(), attempt,
                   worker_name.substr(worker_name.find('/') + 1)};
}

}  // namespace tunefleet::coordinator
