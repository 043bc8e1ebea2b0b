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
  // A deferred failure whose gang workers were neither heard from nor declared
  // lost within the timeout (cannot normally happen): the job's, after all.
  for (auto& [name, entry] : jobs_) {
    if (entry.failure_pending && entry.job.state() == v1::JOB_STATE_RUNNING &&
        now - entry.failure_since > options_.worker_timeout) {
      EndAttempt(entry, v1::ATTEMPT_END_REASON_TRAINER_FAILED, entry.failure_detail).IgnoreError();  // next tick
    }
  }
  sample_rate_.Prune(now);
  ForgetPastRetention();
  CheckDrains();
  CheckHungRanks();
  PlaceQueuedJobs();
}

void ControlPlane::CheckHungRanks() {
  const absl::Time now = Now();
  for (auto& [name, entry] : jobs_) {
    if (entry.job.state() != v1::JOB_STATE_RUNNING || entry.draining) continue;  // a drain may stall steps
    if (entry.ranks.empty()) continue;
    // The gang's progress is its most advanced rank's. Data-parallel ranks
    // step together (a hung rank stalls its peers in the next collective),
    // and only rank 0 writes step metrics: the others never report a step,
    // so judging each rank alone ended every gang after hang_startup.
    size_t lead = 0;
    for (size_t r = 1; r < entry.ranks.size(); ++r) {
      const RankRuntime& rank = entry.ranks[r];
      const RankRuntime& best = entry.ranks[lead];
      if (rank.step > best.step || (rank.step == best.step && rank.last_advance > best.last_advance)) lead = r;
    }
    const RankRuntime& rank = entry.ranks[lead];
    // Before the first step: start-up (model load, rendezvous) gets its own
    // allowance; after: a multiple of the gang's pace, never below the floor.
    const absl::Duration allowance =
        rank.step == 0 ? options_.hang_startup
                       : std::max(options_.hang_floor, rank.step_time * options_.hang_multiplier);
    const absl::Duration stalled = now - rank.last_advance;
    if (stalled <= allowance) continue;
    EndAttempt(entry, v1::ATTEMPT_END_REASON_RANK_HUNG,
               absl::StrCat(entry.ranks.size() == 1 ? "rank " : "no rank of the gang (most advanced: rank ", lead,
                            " on ", rank.worker, entry.ranks.size() == 1 ? "" : ")", " made no progress past step ",
                            rank.step, " for ", absl::FormatDuration(absl::Trunc(stalled, absl::Milliseconds(10))),
                            " (allowance ", absl::FormatDuration(absl::Trunc(allowance, absl::Milliseconds(10))),
                            ")"))
        .IgnoreError();  // not saved: found hung again next tick
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
      } else if (!entry->draining) {  // also after our restart: ask again
        entry->draining = true;
        entry->drain_deadline = deadline;
        entry->drain_asked.clear();
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
  std::set<std::string> workers;
  for (const RankRuntime& rank : entry.ranks) workers.insert(rank.worker);
  // Not marked asked: the heartbeat asks too (a drain asked twice is one drain).
  for (const std::string& worker : workers) {
    v1::WorkerDirective directive;
    auto* checkpoint = directive.add_checkpoint_now();
    checkpoint->set_job(entry.job.name());
    checkpoint->set_generation(entry.job.generation());
    checkpoint->set_stop(true);
    *checkpoint->mutable_grace() = ToProtoDuration(std::max(entry.drain_deadline - Now(), absl::ZeroDuration()));
    directives_.Push(worker, directive);
  }
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
