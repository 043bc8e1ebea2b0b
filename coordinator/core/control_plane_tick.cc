// The control plane's periodic work: noticing lost workers, enforcing drain
// deadlines, and placing queued jobs.

#include <algorithm>
#include <cmath>
#include <limits>

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
  if (!mu_.AwaitWithTimeout(absl::Condition(&placement_wanted_), wait)) return false;
  PlaceQueuedJobs();
  return true;
}

bool ControlPlane::MayFitNow(const v1::JobSpec& spec) const {
  const auto& resources = spec.resources();
  const bool gpu = resources.gpus_per_rank() > 0;
  const int64_t need = static_cast<int64_t>(resources.world_size()) * (gpu ? resources.gpus_per_rank() : 1);
  return need <= (gpu ? free_gpus_after_pass_ : free_cpu_after_pass_);
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
  const absl::Time now = Now();
  // Nothing that could change the last pass's answer has happened: no job
  // queued or requeued, no slot freed, no worker added, and no backoff or
  // reservation has come due.
  if (!placement_wanted_ && now < next_timed_placement_) return;
  placement_wanted_ = false;
  next_timed_placement_ = absl::InfiniteFuture();
  const absl::Time pass_start = absl::Now();
  std::vector<scheduler::WorkerCapacity> capacity;
  capacity.reserve(workers_.size());
  int64_t free_gpus = 0, free_cpu = 0;
  for (const auto& [name, worker] : workers_) {
    capacity.push_back(workers_.Capacity(worker));
    if (!capacity.back().schedulable) continue;
    free_gpus += static_cast<int64_t>(capacity.back().free_gpus.size());
    free_cpu += std::max(capacity.back().free_cpu_slots, 0);
  }
  std::vector<scheduler::QueuedJob> queue;
  const std::set<std::string> held = HeldByGroupLimits();
  // The queue is kept in the scheduler's order (priority, then submission),
  // so the pass reads the QUEUED jobs only, not every job.
  for (const auto& [key, entry_pointer] : jobs_.queue()) {
    const std::string& name = std::get<2>(key);
    const JobEntry& entry = *entry_pointer;
    if (held.count(name)) continue;  // its sweep runs as many as it may
    if (entry.job.has_not_before()) {
      const absl::Time not_before = FromProtoTime(entry.job.not_before());
      if (not_before > now) {  // backing off
        next_timed_placement_ = std::min(next_timed_placement_, not_before);
        continue;
      }
    }
    const auto& resources = entry.job.spec().resources();
    const absl::Time reserves_at = entry.queued_since + options_.scheduling.reserve_after;
    // Past reserve_after a job that does not fit holds a reservation: a change to the answer.
    if (reserves_at > now) next_timed_placement_ = std::min(next_timed_placement_, reserves_at);
    // A gang larger than all free capacity cannot be placed this pass (free
    // capacity only shrinks as the pass places), and one that does not hold
    // a reservation yet changes nothing by waiting: the scheduler would pass
    // it over, so it is not offered. On a full cluster the queue is empty.
    const int64_t need = static_cast<int64_t>(resources.world_size()) *
                         (resources.gpus_per_rank() > 0 ? resources.gpus_per_rank() : 1);
    if (need > (resources.gpus_per_rank() > 0 ? free_gpus : free_cpu) && reserves_at > now) continue;
    scheduler::QueuedJob q;
    q.id = name;
    q.priority = entry.job.spec().priority();
    q.order = entry.order;
    q.world_size = resources.world_size();
    q.gpus_per_rank = resources.gpus_per_rank();
    q.queued_since = entry.queued_since;
    queue.push_back(std::move(q));
  }
  free_gpus_after_pass_ = free_gpus;
  free_cpu_after_pass_ = free_cpu;
  if (queue.empty()) {
    if (options_.on_placement_pass) options_.on_placement_pass(absl::Now() - pass_start);
    return;
  }
  const scheduler::Decision decision = scheduler::Schedule(std::move(queue), std::move(capacity), now,
                                                           options_.scheduling);
  // The decision's time; the commit of its placements (one fsync) follows.
  if (options_.on_placement_pass) options_.on_placement_pass(absl::Now() - pass_start);
  std::vector<PreparedStart> starts;
  for (const scheduler::Placement& placement : decision.placements) {
    starts.push_back(PrepareStart(jobs_.At(placement.job), placement, last_generation_ + 1 + starts.size()));
    for (const scheduler::RankSlot& slot : placement.ranks) {
      if (slot.gpu_indices.empty()) {
        --free_cpu_after_pass_;
      } else {
        free_gpus_after_pass_ -= static_cast<int64_t>(slot.gpu_indices.size());
      }
    }
  }
  if (!StartAttempts(std::move(starts)).ok()) {
    // Not saved: every job stays QUEUED and the next tick's pass places them.
    next_timed_placement_ = absl::InfinitePast();
    free_gpus_after_pass_ = free_cpu_after_pass_ = std::numeric_limits<int64_t>::max();
  }
}

}  // namespace tunefleet::coordinator
