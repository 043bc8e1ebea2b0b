#include "coordinator/core/control_plane.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/security/secrets.h"

namespace tunefleet::coordinator {

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Create(std::unique_ptr<store::Store> store,
                                                                   ControlPlaneOptions options) {
  std::unique_ptr<ControlPlane> plane(new ControlPlane(std::move(store), std::move(options)));
  if (auto s = plane->Load(); !s.ok()) return s;
  return plane;
}

absl::Status ControlPlane::Load() {
  absl::MutexLock lock(&mu_);
  auto stored_jobs = store_->LoadJobs();
  if (!stored_jobs.ok()) return stored_jobs.status();
  for (auto& stored : *stored_jobs) {
    const std::string name = stored.job.name();
    last_generation_ = std::max(last_generation_, stored.job.generation());
    // Finished past the retention: served from the store, not held (ForgetPastRetention).
    if (jobs::IsTerminal(stored.job.state()) &&
        Now() - FromProtoTime(stored.job.end_time()) >= options_.finished_job_retention) {
      continue;
    }
    JobEntry entry;
    entry.job = std::move(stored.job);
    entry.order = stored.order;
    entry.request_id = stored.request_id;
    entry.last_event = stored.last_event;
    entry.queued_since = Now();
    // A running attempt was assigned before the restart: its ranks count as
    // acknowledged, so a worker that no longer reports them ends the attempt
    // rather than restarting part of a gang.
    std::vector<RankRuntime> ranks;
    for (const auto& placement : entry.job.placements()) {
      RankRuntime rank;
      rank.worker = placement.worker();
      rank.gpus.assign(placement.gpu_indices().begin(), placement.gpu_indices().end());
      rank.acknowledged = true;
      entry.last_rank_workers.push_back(placement.worker());
      ranks.push_back(std::move(rank));
    }
    entry.last_attempt = entry.job.attempt();
    if (entry.job.state() == v1::JOB_STATE_RUNNING) {
      // A fresh allowance after our restart; no rendezvous secret (it was in memory only).
      IndexRanks(name, gangs_.Start(name, entry.job.generation(), std::move(ranks), "", Now()).ranks, true);
    } else if (entry.job.attempt() > 1 || entry.job.has_start_time()) {
      // An attempt that has ended: where its ranks ran, for ReadJobLogs.
      auto attempts = store_->LoadAttempts(name);
      if (!attempts.ok()) {
        Log("coordinator", absl::StrCat("WARNING: ", name, ": its logs cannot be found: ", attempts.status().ToString()));
      } else if (!attempts->empty()) {
        const store::AttemptRecord& last = attempts->back();
        entry.last_attempt = last.attempt;
        entry.last_rank_workers.assign(last.placements.size(), "");
        for (const v1::RankPlacement& p : last.placements) {
          if (p.rank() >= 0 && p.rank() < static_cast<int32_t>(last.placements.size())) {
            entry.last_rank_workers[p.rank()] = p.worker();
          }
        }
      }
    }
    last_generation_ = std::max(last_generation_, entry.job.generation());
    jobs_.Add(std::move(entry));
  }
  placement_.Want();
  auto workers = store_->LoadWorkers();
  if (!workers.ok()) return workers.status();
  for (auto& worker : *workers) {
    WorkerEntry& entry = workers_.FindOrAdd(worker.name());
    entry.worker = std::move(worker);
    entry.last_seen = Now();  // a full timeout to re-register after our restart
  }
  Log("coordinator", absl::StrCat("loaded ", jobs_.size(), " jobs and ", workers_.size(), " workers"));
  return absl::OkStatus();
}

v1::JobEvent ControlPlane::MakeEvent(const JobEntry& entry, const v1::Job& job, const std::string& message) const {
  return JobTable::NextEvent(entry, job, message, Now());
}

void ControlPlane::Announce(JobEntry& entry, const v1::JobEvent& event) {
  entry.last_event = event.sequence();
  events_changed_.SignalAll();
  Log("coordinator", absl::StrCat(event.job(), " #", event.sequence(), " ", v1::JobState_Name(event.state()), ": ",
                                  event.message()));
}

absl::Status ControlPlane::WriteJob(const JobEntry& entry, const v1::Job& next,
                                    const std::vector<v1::JobEvent>& events,
                                    const std::optional<store::AttemptRecord>& attempt) {
  // The state machine's edges, checked where every change passes.
  if (next.state() != entry.job.state()) {
    if (auto s = jobs::CheckTransition(entry.job.state(), next.state()); !s.ok()) {
      Log("coordinator", absl::StrCat("ERROR: ", next.name(), ": ", s.ToString()));
      return absl::InternalError(absl::StrCat(next.name(), ": ", s.message()));
    }
  }
  if (auto s = store_->UpdateJob(next, events, attempt); !s.ok()) {
    Log("coordinator", absl::StrCat("ERROR persisting ", next.name(), " (nothing changed): ", s.ToString()));
    return absl::UnavailableError(absl::StrCat("the coordinator could not save ", next.name(), ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status ControlPlane::WriteWorker(const v1::Worker& next) {
  if (auto s = store_->PutWorker(next); !s.ok()) {
    Log("coordinator", absl::StrCat("ERROR persisting ", next.name(), " (nothing changed): ", s.ToString()));
    return absl::UnavailableError(absl::StrCat("the coordinator could not save ", next.name(), ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<JobEntry*> ControlPlane::FindJob(const std::string& name) { return jobs_.Get(name); }

std::vector<JobEntry*> ControlPlane::JobsOn(const std::string& worker) {
  std::vector<JobEntry*> out;
  workers_.ForEachJobOn(worker, [&](const std::string& name) { out.push_back(&jobs_.At(name)); });
  return out;
}

void ControlPlane::IndexRanks(const std::string& job, const std::vector<RankRuntime>& ranks, bool add) {
  for (const RankRuntime& rank : ranks) {
    if (add) {
      workers_.AddRank(job, rank.worker, rank.gpus);
    } else {
      workers_.RemoveRank(job, rank.worker, rank.gpus);
    }
  }
}

v1::Assignment ControlPlane::MakeAssignment(const JobEntry& entry, const GangAttempt& gang,
                                            const std::string& worker) const {
  v1::Assignment assignment;
  assignment.set_job(entry.job.name());
  assignment.set_attempt(entry.job.attempt());
  assignment.set_generation(entry.job.generation());
  *assignment.mutable_spec() = entry.job.spec();
  assignment.set_world_size(static_cast<int32_t>(gang.ranks.size()));
  v1::RendezvousEndpoint& rendezvous = *assignment.mutable_rendezvous();
  rendezvous.set_host("127.0.0.1");
  if (!gang.ranks.empty()) {
    const WorkerEntry* rank0 = workers_.Find(gang.ranks[0].worker);
    if (rank0 != nullptr && !rank0->worker.resources().address().empty()) {
      rendezvous.set_host(rank0->worker.resources().address());
    }
  }
  // Port 0 tells rank 0's worker to pick a free one and report it; the
  // other workers are sent the assignment only once it is known.
  rendezvous.set_port(gang.ranks.size() > 1 ? gang.rendezvous_port : 0);
  // Empty for an attempt that was running before a coordinator restart (the
  // secret lives in memory only); its ranks met before.
  assignment.set_rendezvous_secret(gang.rendezvous_secret);
  for (size_t r = 0; r < gang.ranks.size(); ++r) {
    if (gang.ranks[r].worker != worker) continue;
    assignment.add_ranks(static_cast<int32_t>(r));
    auto* devices = assignment.add_devices();
    for (int32_t gpu : gang.ranks[r].gpus) devices->add_gpu_indices(gpu);
  }
  return assignment;
}

ControlPlane::PreparedStart ControlPlane::PrepareStart(JobEntry& entry, const scheduler::Placement& placement,
                                                      int64_t generation) const {
  const absl::Time now = Now();
  PreparedStart start;
  start.entry = &entry;
  start.now = now;
  v1::Job& job = start.job;
  job = entry.job;
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_generation(generation);
  job.clear_not_before();
  if (!job.has_start_time()) *job.mutable_start_time() = ToProtoTime(now);
  job.clear_placements();
  std::map<std::string, std::vector<int32_t>> ranks_by_worker;
  for (const scheduler::RankSlot& slot : placement.ranks) {
    auto* p = job.add_placements();
    p->set_rank(slot.rank);
    p->set_worker(slot.worker);
    for (int32_t gpu : slot.gpu_indices) p->add_gpu_indices(gpu);
    RankRuntime rank;
    rank.worker = slot.worker;
    rank.gpus = slot.gpu_indices;
    start.ranks.push_back(std::move(rank));
    start.rank_workers.push_back(slot.worker);
    ranks_by_worker[slot.worker].push_back(slot.rank);
  }
  std::vector<std::string> where;
  for (const auto& [worker, worker_ranks] : ranks_by_worker) {
    where.push_back(absl::StrCat(worker, " (rank ", absl::StrJoin(worker_ranks, ","), ")"));
  }
  store::AttemptRecord& attempt = start.attempt;
  attempt.job = job.name();
  attempt.attempt = job.attempt();
  attempt.generation = job.generation();
  attempt.placements.assign(job.placements().begin(), job.placements().end());
  attempt.start_unix_micros = absl::ToUnixMicros(now);
  start.event = MakeEvent(
      entry, job,
      absl::StrCat("attempt ", job.attempt(), " (generation ", job.generation(), ") placed on ",
                   absl::StrJoin(where, ", "), " after ", absl::FormatDuration(now - entry.queued_since), " queued"));
  return start;
}

absl::Status ControlPlane::WriteJobs(const std::vector<const JobEntry*>& entries,
                                     std::vector<store::Store::JobUpdate> updates) {
  for (size_t i = 0; i < updates.size(); ++i) {
    const v1::Job& next = updates[i].job;
    if (next.state() == entries[i]->job.state()) continue;
    if (auto s = jobs::CheckTransition(entries[i]->job.state(), next.state()); !s.ok()) {
      Log("coordinator", absl::StrCat("ERROR: ", next.name(), ": ", s.ToString()));
      return absl::InternalError(absl::StrCat(next.name(), ": ", s.message()));
    }
  }
  if (updates.size() == 1) {
    return WriteJob(*entries[0], updates[0].job, updates[0].events, updates[0].attempt);
  }
  if (auto s = store_->UpdateJobs(updates); !s.ok()) {
    Log("coordinator", absl::StrCat("ERROR persisting ", updates.size(), " jobs (nothing changed): ", s.ToString()));
    return absl::UnavailableError(absl::StrCat("the coordinator could not save ", updates.size(), " jobs: ",
                                               s.message()));
  }
  return absl::OkStatus();
}

absl::Status ControlPlane::StartAttempts(std::vector<PreparedStart> starts) {
  if (starts.empty()) return absl::OkStatus();
  std::vector<const JobEntry*> entries;
  std::vector<store::Store::JobUpdate> updates;
  for (const PreparedStart& start : starts) {
    entries.push_back(start.entry);
    updates.push_back({start.job, {start.event}, start.attempt});
  }
  // One transaction for the pass: all placed, or none (all stay QUEUED).
  if (auto s = WriteJobs(entries, std::move(updates)); !s.ok()) return s;
  for (PreparedStart& start : starts) ApplyStart(start);
  return absl::OkStatus();
}

void ControlPlane::ApplyStart(PreparedStart& start) {
  JobEntry& entry = *start.entry;
  last_generation_ = std::max(last_generation_, start.job.generation());
  SetJob(entry, std::move(start.job));
  entry.last_rank_workers = std::move(start.rank_workers);
  entry.last_attempt = entry.job.attempt();
  const GangAttempt& gang = gangs_.Start(entry.job.name(), entry.job.generation(), std::move(start.ranks),
                                         security::RandomHex(16), start.now);
  ++attempts_started_;
  if (options_.on_placed) options_.on_placed(start.now - entry.queued_since);
  IndexRanks(entry.job.name(), gang.ranks, true);
  Announce(entry, start.event);
  PushStarts(entry);
}

void ControlPlane::PushStarts(const JobEntry& entry) {
  const GangAttempt* gang = gangs_.Find(entry.job.name());
  if (gang == nullptr) return;
  std::set<std::string> workers;
  for (const RankRuntime& rank : gang->ranks) {
    if (!rank.acknowledged) workers.insert(rank.worker);
  }
  for (const std::string& worker : workers) {
    // They are pushed theirs when rank 0's port arrives.
    if (gang->WaitsForPort(worker)) continue;
    v1::WorkerDirective directive;
    *directive.add_start() = MakeAssignment(entry, *gang, worker);
    directives_.Push(worker, directive);
  }
}

absl::Status ControlPlane::EndAttempt(JobEntry& entry, v1::AttemptEndReason reason, const std::string& detail) {
  return EndAttempts({EndRequest{&entry, reason, detail}});
}

absl::Status ControlPlane::EndAttempts(const std::vector<EndRequest>& requests) {
  const absl::Time now = Now();
  struct PreparedEnd {
    JobEntry* entry;
    v1::AttemptEndReason reason;
    v1::Job job;
    v1::JobEvent event;
    bool queued = false;
  };
  std::vector<PreparedEnd> ends;
  std::vector<const JobEntry*> entries;
  std::vector<store::Store::JobUpdate> updates;
  std::set<const JobEntry*> seen;
  for (const EndRequest& request : requests) {
    JobEntry& entry = *request.entry;
    // The first reason given for an attempt is the one it ends with.
    if (entry.job.state() != v1::JOB_STATE_RUNNING || !seen.insert(&entry).second) continue;
    store::AttemptRecord attempt;
    attempt.job = entry.job.name();
    attempt.attempt = entry.job.attempt();
    attempt.generation = entry.job.generation();
    attempt.placements.assign(entry.job.placements().begin(), entry.job.placements().end());
    attempt.end_unix_micros = absl::ToUnixMicros(now);
    attempt.end_reason = request.reason;
    attempt.end_message = request.detail;
    attempt.start_unix_micros = absl::ToUnixMicros(gangs_.Find(entry.job.name())->start);

    v1::Job job = entry.job;
    const jobs::AttemptOutcome outcome = jobs::AfterAttempt(job, request.reason, request.detail, options_.backoff);
    job.set_state(outcome.state);
    job.set_attempt(outcome.attempt);
    job.set_restarts_used(outcome.restarts_used);
    job.clear_placements();
    if (outcome.state == v1::JOB_STATE_QUEUED) {
      *job.mutable_not_before() = ToProtoTime(now + outcome.backoff);
    } else {
      job.set_failure_reason(outcome.failure_reason);
      *job.mutable_end_time() = ToProtoTime(now);
    }
    PreparedEnd end{&entry, request.reason, job, MakeEvent(entry, job, outcome.event_message),
                    outcome.state == v1::JOB_STATE_QUEUED};
    entries.push_back(&entry);
    updates.push_back({std::move(job), {end.event}, std::move(attempt)});
    ends.push_back(std::move(end));
  }
  if (ends.empty()) return absl::OkStatus();
  // Attempts ending together (a worker lost, one heartbeat's exits): one transaction.
  if (auto s = WriteJobs(entries, std::move(updates)); !s.ok()) return s;

  for (PreparedEnd& end : ends) {
    JobEntry& entry = *end.entry;
    const std::string& name = entry.job.name();
    const std::vector<RankRuntime>& ranks = gangs_.Find(name)->ranks;
    // Every rank is stopped everywhere; slots stay busy until confirmed dead.
    std::map<std::string, StoppingRanks> stopping;
    for (const RankRuntime& rank : ranks) {
      const WorkerEntry* worker = workers_.Find(rank.worker);
      if (worker == nullptr || worker->worker.state() == v1::WORKER_STATE_LOST) continue;
      StoppingRanks& s = stopping[rank.worker];
      s.job = entry.job.name();
      s.generation = entry.job.generation();
      if (rank.gpus.empty()) ++s.cpu_slots;
      s.gpus.insert(s.gpus.end(), rank.gpus.begin(), rank.gpus.end());
    }
    for (auto& [worker, s] : stopping) {
      v1::WorkerDirective directive;
      StopRanksDirective(s.job, s.generation, "attempt stopped", directive.add_stop());
      directives_.Push(worker, directive);
      workers_.FindOrAdd(worker).stopping.push_back(std::move(s));
    }
    ++attempts_ended_[v1::AttemptEndReason_Name(end.reason)];
    IndexRanks(name, ranks, false);
    gangs_.End(name);  // `ranks` with it
    if (end.queued) {
      ++restarts_[v1::AttemptEndReason_Name(end.reason)];
      entry.queued_since = now;
    }
    SetJob(entry, std::move(end.job));
    Announce(entry, end.event);
  }
  placement_.Want();  // a gang may fit once these slots are confirmed free, or a member's group allows
  return absl::OkStatus();
}

void ControlPlane::StopRanksDirective(const std::string& job, int64_t generation, const std::string& reason,
                                      v1::StopRanks* out) {
  out->set_job(job);
  out->set_generation(generation);
  out->set_reason(reason);
}

void ControlPlane::SetJob(JobEntry& entry, v1::Job next) {
  if (jobs_.Set(entry, std::move(next))) placement_.Want();
}

}  // namespace tunefleet::coordinator
