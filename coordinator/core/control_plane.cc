#include "coordinator/core/control_plane.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/security/secrets.h"

namespace tunefleet::coordinator {

absl::Status CheckResourceName(const std::string& name, const std::string& collection) {
  const std::string prefix = collection + "/";
  if (!absl::StartsWith(name, prefix) || name.size() == prefix.size() ||
      name.find('/', prefix.size()) != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("name: expected \"", collection, "/{id}\", got \"", name, "\""));
  }
  return absl::OkStatus();
}

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
    JobEntry& entry = jobs_[name];
    entry.job = std::move(stored.job);
    entry.order = stored.order;
    entry.queued_since = Now();
    entry.attempt_start = Now();
    auto events = store_->LoadEvents(name, 0);
    if (!events.ok()) return events.status();
    entry.events = std::move(*events);
    // A running attempt was assigned before the restart: its ranks count as
    // acknowledged, so a worker that no longer reports them ends the attempt
    // rather than restarting part of a gang.
    for (const auto& placement : entry.job.placements()) {
      RankRuntime rank;
      rank.worker = placement.worker();
      rank.gpus.assign(placement.gpu_indices().begin(), placement.gpu_indices().end());
      rank.acknowledged = true;
      rank.last_advance = Now();  // a fresh allowance after our restart
      entry.last_rank_workers.push_back(placement.worker());
      entry.ranks.push_back(std::move(rank));
    }
    if (entry.job.state() == v1::JOB_STATE_RUNNING) IndexRanks(entry, true);
    entry.last_attempt = entry.job.attempt();
    last_generation_ = std::max(last_generation_, entry.job.generation());
    job_order_[entry.order] = name;
    if (!stored.request_id.empty()) request_ids_[stored.request_id] = name;
  }
  auto workers = store_->LoadWorkers();
  if (!workers.ok()) return workers.status();
  for (auto& worker : *workers) {
    WorkerEntry& entry = workers_[worker.name()];
    entry.worker = std::move(worker);
    entry.last_seen = Now();  // a full timeout to re-register after our restart
  }
  Log("coordinator", absl::StrCat("loaded ", jobs_.size(), " jobs and ", workers_.size(), " workers"));
  return absl::OkStatus();
}

v1::JobEvent ControlPlane::AddEvent(JobEntry& entry, const std::string& message) {
  v1::JobEvent event;
  event.set_sequence(entry.events.empty() ? 1 : entry.events.back().sequence() + 1);
  event.set_job(entry.job.name());
  *event.mutable_time() = ToProtoTime(Now());
  event.set_state(entry.job.state());
  event.set_attempt(entry.job.attempt());
  event.set_message(message);
  entry.events.push_back(event);
  events_changed_.SignalAll();
  Log("coordinator", absl::StrCat(entry.job.name(), " #", event.sequence(), " ",
                                  v1::JobState_Name(entry.job.state()), ": ", message));
  return event;
}

void ControlPlane::Persist(JobEntry& entry, const std::vector<v1::JobEvent>& events,
                           const std::optional<store::AttemptRecord>& attempt) {
  if (auto s = store_->UpdateJob(entry.job, events, attempt); !s.ok()) {
    // The in-memory state goes on; the next write of this job carries it.
    Log("coordinator", absl::StrCat("ERROR persisting ", entry.job.name(), ": ", s.ToString()));
  }
}

void ControlPlane::PersistWorker(const WorkerEntry& worker) {
  if (auto s = store_->PutWorker(worker.worker); !s.ok()) {
    Log("coordinator", absl::StrCat("ERROR persisting ", worker.worker.name(), ": ", s.ToString()));
  }
}

absl::StatusOr<ControlPlane::JobEntry*> ControlPlane::FindJob(const std::string& name) {
  if (auto s = CheckResourceName(name, "jobs"); !s.ok()) return s;
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return &it->second;
}

absl::StatusOr<ControlPlane::WorkerEntry*> ControlPlane::FindWorker(const std::string& name) {
  if (auto s = CheckResourceName(name, "workers"); !s.ok()) return s;
  auto it = workers_.find(name);
  if (it == workers_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return &it->second;
}

std::vector<ControlPlane::JobEntry*> ControlPlane::JobsOn(const std::string& worker) {
  std::vector<JobEntry*> out;
  for (const std::string& name : JobNamesOn(worker)) out.push_back(&jobs_.at(name));
  return out;
}

const std::set<std::string>& ControlPlane::JobNamesOn(const std::string& worker) const {
  static const std::set<std::string> kNone;
  auto it = running_on_.find(worker);
  return it == running_on_.end() ? kNone : it->second;
}

void ControlPlane::IndexRanks(const JobEntry& entry, bool add) {
  for (const RankRuntime& rank : entry.ranks) {
    if (add) {
      running_on_[rank.worker].insert(entry.job.name());
    } else if (auto it = running_on_.find(rank.worker); it != running_on_.end()) {
      it->second.erase(entry.job.name());
      if (it->second.empty()) running_on_.erase(it);
    }
  }
}

scheduler::WorkerCapacity ControlPlane::Capacity(const WorkerEntry& worker) const {
  scheduler::WorkerCapacity capacity;
  capacity.id = worker.worker.name();
  capacity.schedulable = worker.worker.state() == v1::WORKER_STATE_READY;
  std::set<int32_t> busy_gpus;
  int32_t busy_cpu = 0;
  for (const std::string& name : JobNamesOn(capacity.id)) {
    for (const RankRuntime& rank : jobs_.at(name).ranks) {
      if (rank.worker != capacity.id) continue;
      if (rank.gpus.empty()) ++busy_cpu;
      busy_gpus.insert(rank.gpus.begin(), rank.gpus.end());
    }
  }
  for (const StoppingRanks& stopping : worker.stopping) {
    busy_cpu += stopping.cpu_slots;
    busy_gpus.insert(stopping.gpus.begin(), stopping.gpus.end());
  }
  for (const auto& gpu : worker.worker.resources().gpus()) {
    if (!busy_gpus.count(gpu.index())) capacity.free_gpus.push_back(gpu.index());
  }
  capacity.free_cpu_slots = worker.worker.resources().cpu_slots() - busy_cpu;
  return capacity;
}

v1::Worker ControlPlane::WorkerView(const WorkerEntry& worker) const {
  v1::Worker view = worker.worker;
  const scheduler::WorkerCapacity free = Capacity(worker);
  const int32_t gpus = view.resources().gpus_size();
  view.set_slots_total(gpus > 0 ? gpus : view.resources().cpu_slots());
  view.set_slots_busy(view.slots_total() -
                      (gpus > 0 ? static_cast<int32_t>(free.free_gpus.size()) : free.free_cpu_slots));
  view.clear_jobs();
  for (const std::string& name : JobNamesOn(view.name())) view.add_jobs(name);
  return view;
}

v1::Assignment ControlPlane::MakeAssignment(const JobEntry& entry, const std::string& worker) const {
  v1::Assignment assignment;
  assignment.set_job(entry.job.name());
  assignment.set_attempt(entry.job.attempt());
  assignment.set_generation(entry.job.generation());
  *assignment.mutable_spec() = entry.job.spec();
  assignment.set_world_size(static_cast<int32_t>(entry.ranks.size()));
  std::string host = "127.0.0.1";
  if (!entry.ranks.empty()) {
    auto it = workers_.find(entry.ranks[0].worker);
    if (it != workers_.end() && !it->second.worker.resources().address().empty()) {
      host = it->second.worker.resources().address();
    }
  }
  // Port 0 tells rank 0's worker to pick a free one and report it; the
  // other workers are sent the assignment only once it is known.
  const int port = entry.ranks.size() > 1 ? entry.rendezvous_port : 0;
  assignment.set_rendezvous_address(absl::StrCat(host, ":", port));
  // Empty for an attempt that was running before a coordinator restart (the
  // secret lives in memory only); its ranks met before.
  assignment.set_rendezvous_secret(entry.rendezvous_secret);
  for (size_t r = 0; r < entry.ranks.size(); ++r) {
    if (entry.ranks[r].worker != worker) continue;
    assignment.add_ranks(static_cast<int32_t>(r));
    auto* devices = assignment.add_devices();
    for (int32_t gpu : entry.ranks[r].gpus) devices->add_gpu_indices(gpu);
  }
  return assignment;
}

void ControlPlane::StartAttempt(JobEntry& entry, const scheduler::Placement& placement) {
  v1::Job& job = entry.job;
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_generation(++last_generation_);
  job.clear_not_before();
  if (!job.has_start_time()) *job.mutable_start_time() = ToProtoTime(Now());
  job.clear_placements();
  entry.ranks.clear();
  entry.last_rank_workers.clear();
  entry.last_attempt = job.attempt();
  entry.rendezvous_port = 0;
  entry.rendezvous_secret = security::RandomHex(16);
  entry.draining = false;
  entry.drain_asked.clear();
  entry.failure_pending = false;
  entry.failure_waits_for.clear();
  ++attempts_started_;
  if (options_.on_placed) options_.on_placed(Now() - entry.queued_since);
  std::map<std::string, std::vector<int32_t>> ranks_by_worker;
  for (const scheduler::RankSlot& slot : placement.ranks) {
    auto* p = job.add_placements();
    p->set_rank(slot.rank);
    p->set_worker(slot.worker);
    for (int32_t gpu : slot.gpu_indices) p->add_gpu_indices(gpu);
    RankRuntime rank;
    rank.worker = slot.worker;
    rank.gpus = slot.gpu_indices;
    rank.last_advance = Now();
    entry.ranks.push_back(std::move(rank));
    entry.last_rank_workers.push_back(slot.worker);
    ranks_by_worker[slot.worker].push_back(slot.rank);
  }
  IndexRanks(entry, true);
  std::vector<std::string> where;
  for (const auto& [worker, ranks] : ranks_by_worker) {
    where.push_back(absl::StrCat(worker, " (rank ", absl::StrJoin(ranks, ","), ")"));
  }
  store::AttemptRecord attempt;
  attempt.job = job.name();
  attempt.attempt = job.attempt();
  attempt.generation = job.generation();
  attempt.placements.assign(job.placements().begin(), job.placements().end());
  entry.attempt_start = Now();
  attempt.start_unix_micros = absl::ToUnixMicros(entry.attempt_start);
  auto event = AddEvent(entry, absl::StrCat("attempt ", job.attempt(), " (generation ", job.generation(),
                                            ") placed on ", absl::StrJoin(where, ", "), " after ",
                                            absl::FormatDuration(Now() - entry.queued_since), " queued"));
  Persist(entry, {event}, attempt);
}

void ControlPlane::EndAttempt(JobEntry& entry, v1::AttemptEndReason reason, const std::string& detail) {
  v1::Job& job = entry.job;
  if (job.state() != v1::JOB_STATE_RUNNING) return;
  // Every rank is stopped everywhere; slots stay busy until confirmed dead.
  std::map<std::string, StoppingRanks> stopping;
  for (const RankRuntime& rank : entry.ranks) {
    auto worker = workers_.find(rank.worker);
    if (worker == workers_.end() || worker->second.worker.state() == v1::WORKER_STATE_LOST) continue;
    StoppingRanks& s = stopping[rank.worker];
    s.job = job.name();
    s.generation = job.generation();
    if (rank.gpus.empty()) ++s.cpu_slots;
    s.gpus.insert(s.gpus.end(), rank.gpus.begin(), rank.gpus.end());
  }
  for (auto& [worker, s] : stopping) {
    workers_[worker].stopping.push_back(std::move(s));
  }
  entry.draining = false;
  entry.drain_asked.clear();
  entry.failure_pending = false;
  entry.failure_waits_for.clear();
  ++attempts_ended_[v1::AttemptEndReason_Name(reason)];

  store::AttemptRecord attempt;
  attempt.job = job.name();
  attempt.attempt = job.attempt();
  attempt.generation = job.generation();
  attempt.placements.assign(job.placements().begin(), job.placements().end());
  attempt.end_unix_micros = absl::ToUnixMicros(Now());
  attempt.end_reason = reason;
  attempt.end_message = detail;
  attempt.start_unix_micros = absl::ToUnixMicros(entry.attempt_start);

  const jobs::AttemptOutcome outcome = jobs::AfterAttempt(job, reason, detail, options_.backoff);
  job.set_state(outcome.state);
  job.set_attempt(outcome.attempt);
  job.set_restarts_used(outcome.restarts_used);
  job.clear_placements();
  IndexRanks(entry, false);
  entry.ranks.clear();
  if (outcome.state == v1::JOB_STATE_QUEUED) {
    ++restarts_[v1::AttemptEndReason_Name(reason)];
    entry.queued_since = Now();
    *job.mutable_not_before() = ToProtoTime(Now() + outcome.backoff);
  } else {
    job.set_failure_reason(outcome.failure_reason);
    *job.mutable_end_time() = ToProtoTime(Now());
  }
  auto event = AddEvent(entry, outcome.event_message);
  Persist(entry, {event}, attempt);
}

}  // namespace tunefleet::coordinator
