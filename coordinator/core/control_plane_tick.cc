// The control plane's periodic work: noticing lost workers, enforcing drain
// deadlines, and placing queued jobs.

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "coordinator/core/control_plane.h"

namespace tunefleet::coordinator {

void ControlPlane::Tick() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = Now();
  for (auto& [name, worker] : workers_) {
    if (worker.worker.state() == v1::WORKER_STATE_LOST) continue;
    workers_.CountMissedHeartbeats(worker, now);
    const absl::Duration silent = now - worker.last_seen;
    if (silent > options_.worker_timeout) {
      // Not saved: still silent at the next tick, and tried again then.
      MarkWorkerLost(worker, absl::StrCat(name, " sent no heartbeat for ", absl::FormatDuration(silent),
                                          " (timeout ", absl::FormatDuration(options_.worker_timeout), ")"))
          .IgnoreError();
    }
  }
  // Attempts on a LOST worker whose end was not saved (a failed write): again.
  for (auto& [name, worker] : workers_) {
    if (worker.worker.state() != v1::WORKER_STATE_LOST) continue;
    for (JobEntry* entry : JobsOn(name)) {
      EndAttempt(*entry, v1::ATTEMPT_END_REASON_WORKER_LOST, absl::StrCat(name, " is lost")).IgnoreError();
    }
  }
  EndOnVerdicts(gangs_.OverdueFailures(now));  // deferred failures whose gang stayed silent
  sample_rate_.Prune(now);
  ForgetPastRetention();
  CheckDrains();
  EndOnVerdicts(gangs_.HungGangs(Now()));
  PlaceQueuedJobs();
}

// The supervisor's verdicts visit only what its indexes hold due, not every
// job: a tick's cost follows the attempts that end, not the jobs in memory.
void ControlPlane::EndOnVerdicts(const std::vector<GangSupervisor::Verdict>& verdicts) {
  for (const GangSupervisor::Verdict& verdict : verdicts) {
    EndAttempt(jobs_.At(verdict.job), verdict.reason, verdict.detail).IgnoreError();  // not saved: due next tick
  }
}

absl::Status ControlPlane::MarkWorkerLost(WorkerEntry& worker, const std::string& why) {
  v1::Worker next = worker.worker;
  next.set_state(v1::WORKER_STATE_LOST);
  if (auto s = WriteWorker(next); !s.ok()) return s;
  Log("coordinator", absl::StrCat(worker.worker.name(), " LOST: ", why));
  worker.worker = std::move(next);
  worker.session.clear();  // its next heartbeat is told to register again
  directives_.CloseWorker(worker.worker.name());
  worker.stopping.clear();  // nothing to confirm: its trainers die with it (or are stopped on return)
  std::vector<EndRequest> ends;  // one transaction for all its attempts
  for (JobEntry* entry : JobsOn(worker.worker.name())) ends.push_back({entry, v1::ATTEMPT_END_REASON_WORKER_LOST, why});
  return EndAttempts(ends);
}

void ControlPlane::CheckDrains() {
  const absl::Time now = Now();
  for (auto& [name, worker] : workers_) {
    if (worker.worker.state() != v1::WORKER_STATE_DRAINING) continue;
    const absl::Time deadline = FromProtoTime(worker.worker.drain_deadline());
    for (JobEntry* entry : JobsOn(name)) {
      if (now >= deadline) {
        // Ranks still saving are killed; the job resumes from its previous checkpoint.
        EndAttempt(*entry, v1::ATTEMPT_END_REASON_DRAINED,
                   absl::StrCat(name, " is draining: deadline reached before every rank checkpointed"))
            .IgnoreError();  // not saved: the deadline is still past next tick
      } else if (gangs_.Drain(entry->job.name(), deadline)) {  // also after our restart: ask again
        PushDrain(*entry);
      }
    }
    if (!workers_.HasRanks(name) && worker.stopping.empty()) {
      v1::Worker next = worker.worker;
      next.set_state(v1::WORKER_STATE_DRAINED);
      next.clear_drain_deadline();
      if (!WriteWorker(next).ok()) continue;  // still DRAINING, and done, next tick
      worker.worker = std::move(next);
      Log("coordinator", absl::StrCat(name, " DRAINED"));
    }
  }
}

bool ControlPlane::RunPlacementPass(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(&placement_, &PlacementPass::wanted), wait)) return false;
  PlaceQueuedJobs();
  return true;
}

void ControlPlane::PushDrain(const JobEntry& entry) {
  const GangAttempt* gang = gangs_.Find(entry.job.name());
  if (gang == nullptr) return;
  std::set<std::string> workers;
  for (const RankRuntime& rank : gang->ranks) workers.insert(rank.worker);
  // Not marked asked: the heartbeat asks too (a drain asked twice is one drain).
  for (const std::string& worker : workers) {
    v1::WorkerDirective directive;
    *directive.add_checkpoint_now() = DrainRequest(entry, *gang);
    directives_.Push(worker, directive);
  }
}

v1::CheckpointRequest ControlPlane::DrainRequest(const JobEntry& entry, const GangAttempt& gang) const {
  v1::CheckpointRequest checkpoint;
  checkpoint.set_job(entry.job.name());
  checkpoint.set_generation(entry.job.generation());
  checkpoint.set_stop(true);
  *checkpoint.mutable_grace() = ToProtoDuration(std::max(gang.drain_deadline - Now(), absl::ZeroDuration()));
  return checkpoint;
}

void ControlPlane::PlaceQueuedJobs() {
  const absl::Time pass_start = absl::Now();
  std::optional<scheduler::Decision> decision = placement_.Decide(jobs_, workers_, Now());
  if (!decision.has_value()) return;  // nothing that could change the last answer happened
  // The decision's time; the commit of its placements (one fsync) follows.
  if (options_.on_placement_pass) options_.on_placement_pass(absl::Now() - pass_start);
  std::vector<PreparedStart> starts;
  for (const scheduler::Placement& placement : decision->placements) {
    starts.push_back(PrepareStart(jobs_.At(placement.job), placement, last_generation_ + 1 + starts.size()));
  }
  // Not saved: every job stays QUEUED and the next tick's pass places them.
  if (!StartAttempts(std::move(starts)).ok()) placement_.NotSaved();
}

}  // namespace tunefleet::coordinator
