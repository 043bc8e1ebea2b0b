// JobService's side of the control plane: submit, read, list, cancel, watch.

#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/job_spec_defaults.h"
#include "common/log.h"
#include "common/job_spec_paths.h"
#include "common/job_spec_validation.h"
#include "common/proto_time.h"
#include "coordinator/checkpoints/checkpoint_listing.h"
#include "coordinator/core/control_plane.h"

namespace tunefleet::coordinator {
namespace {

bool IsValidJobId(const std::string& id) {
  if (id.empty() || id.size() > 63) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::string RandomJobId() {
  // Seeded with 128 bits: gRPC starts and ends handler threads all the time,
  // and two threads seeded alike (32 bits, a birthday away) would hand out
  // the same ids in the same order.
  static thread_local std::mt19937_64 rng = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return absl::StrCat("job-", absl::Hex(rng() & 0xffffffffffULL, absl::kZeroPad10));
}

}  // namespace

absl::StatusOr<v1::Job> ControlPlane::CreateJob(const v1::CreateJobRequest& request, const std::string& owner) {
  v1::JobSpec spec = WithDefaults(request.spec());
  if (auto s = ValidateJobSpec(spec); !s.ok()) return s;
  if (auto s = CheckPathsUnderRoots(spec, options_.allowed_path_roots); !s.ok()) return s;
  if (!request.job_id().empty() && !IsValidJobId(request.job_id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("job_id: must match [a-z0-9-]{1,63}, got \"", request.job_id(), "\""));
  }

  Submission me;
  me.request = &request;
  me.spec = std::move(spec);
  me.owner = owner;
  return submissions_.Submit(std::move(me),
                             [this](const std::vector<Submission*>& batch) { return SaveSubmissions(batch); });
}

std::vector<absl::StatusOr<v1::Job>> ControlPlane::SaveSubmissions(const std::vector<Submission*>& batch) {
  constexpr size_t kNone = static_cast<size_t>(-1);
  absl::MutexLock lock(&mu_);
  std::vector<absl::StatusOr<v1::Job>> results(batch.size(), absl::InternalError("not saved"));
  std::vector<store::NewJob> rows;
  std::vector<JobEntry> entries;
  std::vector<size_t> row_of(batch.size(), kNone);
  std::map<std::string, size_t> batch_request_ids;  // a retry inside the batch: the same row
  std::set<std::string> batch_names;
  std::map<std::string, int64_t> active;  // owner -> jobs queued or running
  bool active_counted = false;
  std::map<int32_t, GangRoom> rooms;  // CheckGangFits's walks over the workers, once per batch
  for (size_t i = 0; i < batch.size(); ++i) {
    const v1::CreateJobRequest& request = *batch[i]->request;
    const std::string& request_id = request.request_id();
    if (!request_id.empty()) {
      if (const JobEntry* seen = jobs_.ForRequest(request_id); seen != nullptr) {
        results[i] = seen->job;  // a retry: same job
        continue;
      }
      if (auto seen = batch_request_ids.find(request_id); seen != batch_request_ids.end()) {
        row_of[i] = seen->second;
        continue;
      }
    }
    if (auto s = CheckGangFits(batch[i]->spec, &rooms); !s.ok()) {
      results[i] = s;
      continue;
    }
    if (options_.max_active_jobs_per_user > 0) {
      if (!active_counted) {  // one pass over the table per batch, not per job
        for (const auto& [job_name, entry] : jobs_) {
          if (!jobs::IsTerminal(entry.job.state())) ++active[entry.job.owner()];
        }
        active_counted = true;
      }
      const std::string& owner = batch[i]->owner;
      if (active[owner] >= options_.max_active_jobs_per_user) {
        results[i] = absl::ResourceExhaustedError(absl::StrCat(
            owner.empty() ? "anonymous" : owner, " has ", active[owner], " jobs queued or running; the quota is ",
            options_.max_active_jobs_per_user, " per user (--max-active-jobs-per-user)"));
        continue;
      }
      ++active[owner];
    }
    std::string name = absl::StrCat("jobs/", request.job_id().empty() ? RandomJobId() : request.job_id());
    for (int retry = 0; request.job_id().empty() && retry < 8 && (jobs_.Find(name) != nullptr || batch_names.count(name));
         ++retry) {
      name = absl::StrCat("jobs/", RandomJobId());  // a random id that is taken: draw again
    }
    // A finished job that left memory holds its name in the Store (one
    // indexed read, for chosen ids only): refused here, not by the batch's insert.
    if (jobs_.Find(name) != nullptr || batch_names.count(name) || (!request.job_id().empty() && store_->LoadJob(name).ok())) {
      results[i] = absl::AlreadyExistsError(absl::StrCat(name, " already exists"));
      continue;
    }
    JobEntry entry;
    entry.job.set_name(name);
    *entry.job.mutable_spec() = batch[i]->spec;
    entry.job.set_state(v1::JOB_STATE_QUEUED);
    entry.job.set_attempt(1);
    entry.job.set_owner(batch[i]->owner);
    entry.request_id = request_id;
    *entry.job.mutable_create_time() = ToProtoTime(Now());
    entry.queued_since = Now();
    // Built by hand: the entry is not in jobs_ until it is durable.
    v1::JobEvent event;
    event.set_sequence(1);
    event.set_job(name);
    *event.mutable_time() = entry.job.create_time();
    event.set_state(v1::JOB_STATE_QUEUED);
    event.set_attempt(1);
    event.set_message(absl::StrCat("submitted: ", entry.job.spec().resources().world_size(), " rank(s), priority ",
                                   entry.job.spec().priority()));
    row_of[i] = rows.size();
    if (!request_id.empty()) batch_request_ids[request_id] = rows.size();
    batch_names.insert(name);
    rows.push_back(store::NewJob{entry.job, request_id, {event}});
    entries.push_back(std::move(entry));
  }
  if (rows.empty()) return results;
  auto orders = store_->InsertJobs(rows);
  if (!orders.ok()) {
    absl::Status failed = orders.status();
    if (failed.code() != absl::StatusCode::kAlreadyExists) {
      Log("coordinator", absl::StrCat("ERROR persisting ", rows.size(), " new job(s) (none accepted): ",
                                      failed.ToString()));
      failed = absl::UnavailableError(
          absl::StrCat("the coordinator could not save the job (not accepted; retry): ", failed.message()));
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (row_of[i] != kNone) results[i] = failed;
    }
    return results;
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    JobEntry& entry = entries[r];
    const std::string name = entry.job.name();
    entry.order = (*orders)[r];
    entry.last_event = 1;
    const JobEntry& kept = jobs_.Add(std::move(entry));
    // The placement pass runs now, not at the next tick; unless the job is
    // larger than all the capacity the last pass left free (a full cluster):
    // then it cannot change the pass's answer until a slot frees, which wakes it.
    if (placement_.MayFitNow(kept.job.spec())) placement_.Want();
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (row_of[i] != kNone) results[i] = rows[row_of[i]].job;
  }
  events_changed_.SignalAll();
  return results;
}

absl::StatusOr<v1::Job> ControlPlane::GetJob(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto entry = FindJob(name);
  if (entry.ok()) return (*entry)->job;
  if (entry.status().code() != absl::StatusCode::kNotFound) return entry.status();
  auto stored = StoredJob(name);
  if (!stored.ok()) return stored.status();
  return std::move(stored->job);
}

absl::StatusOr<v1::ListJobsResponse> ControlPlane::ListJobs(const v1::ListJobsRequest& request) {
  int32_t page_size = request.page_size() <= 0 ? 50 : std::min(request.page_size(), 1000);
  int64_t after = 0;
  if (!request.page_token().empty() && !absl::SimpleAtoi(request.page_token(), &after)) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  std::vector<v1::JobState> states;
  for (int state : request.states()) {
    if (!v1::JobState_IsValid(state)) {
      return absl::InvalidArgumentError(absl::StrCat("states: ", state, " is not a job state"));
    }
    states.push_back(static_cast<v1::JobState>(state));
  }
  absl::MutexLock lock(&mu_);
  // Paged from the Store, which holds every job (finished ones that left
  // memory too) in submission order; a job still in memory is listed as
  // memory has it (its live progress). Its state is the same in both: every
  // change is written before it is applied.
  auto rows = store_->LoadJobsAfter(after, states, page_size + 1);
  if (!rows.ok()) return rows.status();
  v1::ListJobsResponse response;
  int64_t last_listed = after;
  size_t page_bytes = 0;
  for (store::StoredJob& row : *rows) {
    const JobEntry* live = jobs_.Find(row.job.name());
    const v1::Job& job = live != nullptr ? live->job : row.job;
    const size_t job_bytes = job.ByteSizeLong();
    // Full by count or by bytes (one job always fits): the token resumes after the last listed.
    if (response.jobs_size() == page_size ||
        (response.jobs_size() > 0 && page_bytes + job_bytes > options_.list_page_bytes)) {
      response.set_next_page_token(absl::StrCat(last_listed));
      break;
    }
    *response.add_jobs() = job;
    page_bytes += job_bytes;
    last_listed = row.order;
  }
  return response;
}

absl::StatusOr<v1::Job> ControlPlane::CancelJob(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto found = FindJob(name);
  if (!found.ok() && found.status().code() == absl::StatusCode::kNotFound) {
    auto stored = StoredJob(name);  // only finished jobs leave memory
    if (!stored.ok()) return stored.status();
    return absl::FailedPreconditionError(
        absl::StrCat(name, " has already ended (", v1::JobState_Name(stored->job.state()), ")"));
  }
  if (!found.ok()) return found.status();
  JobEntry& entry = **found;
  switch (entry.job.state()) {
    case v1::JOB_STATE_RUNNING:
      if (auto s = EndAttempt(entry, v1::ATTEMPT_END_REASON_CANCELLED, "cancelled by request"); !s.ok()) return s;
      break;
    case v1::JOB_STATE_QUEUED: {
      v1::Job job = entry.job;
      job.set_state(v1::JOB_STATE_CANCELLED);
      *job.mutable_end_time() = ToProtoTime(Now());
      const v1::JobEvent event = MakeEvent(entry, job, "cancelled by request while queued");
      if (auto s = WriteJob(entry, job, {event}); !s.ok()) return s;
      SetJob(entry, std::move(job));
      Announce(entry, event);
      break;
    }
    default:
      return absl::FailedPreconditionError(
          absl::StrCat(name, " has already ended (", v1::JobState_Name(entry.job.state()), ")"));
  }
  return entry.job;
}

absl::StatusOr<std::vector<v1::JobEvent>> ControlPlane::EventsAfter(const std::string& name, int64_t after,
                                                                    bool* finished) {
  absl::MutexLock lock(&mu_);
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  int64_t last_event = 0;
  if (auto found = FindJob(name); found.ok()) {
    state = (*found)->job.state();
    last_event = (*found)->last_event;
  } else if (found.status().code() != absl::StatusCode::kNotFound) {
    return found.status();
  } else {
    auto stored = StoredJob(name);
    if (!stored.ok()) return stored.status();
    state = stored->job.state();
    last_event = stored->last_event;
  }
  // Paged from the store: memory holds only the newest sequence.
  std::vector<v1::JobEvent> out;
  if (after < last_event) {
    auto events = store_->LoadEvents(name, after, kEventPage);
    if (!events.ok()) return events.status();
    out = std::move(*events);
  }
  const int64_t last_read = out.empty() ? after : out.back().sequence();
  *finished = jobs::IsTerminal(state) && last_read >= last_event;
  return out;
}

void ControlPlane::WaitForEvents(const std::string& name, int64_t after, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const JobEntry* entry = jobs_.Find(name);
    if (entry == nullptr || entry->last_event > after) return;
    events_changed_.WaitWithDeadline(&mu_, deadline);
  }
}

ControlPlane::GangRoom ControlPlane::RoomFor(int32_t gpus_per_rank) const {
  GangRoom room;
  for (const auto& [name, worker] : workers_) {
    if (worker.worker.state() == v1::WORKER_STATE_LOST) continue;
    ++room.workers;
    const auto& res = worker.worker.resources();
    room.ranks += gpus_per_rank > 0 ? res.gpus_size() / gpus_per_rank : res.cpu_slots();
  }
  return room;
}

absl::Status ControlPlane::CheckGangFits(const v1::JobSpec& spec, std::map<int32_t, GangRoom>* rooms) const {
  // Refused at CreateJob rather than queued forever. Against the workers
  // known and not LOST: with none registered yet (a cluster starting up)
  // every gang is accepted, since capacity may still come.
  const int32_t gpus_per_rank = spec.resources().gpus_per_rank();
  auto known = rooms->find(gpus_per_rank);
  if (known == rooms->end()) known = rooms->emplace(gpus_per_rank, RoomFor(gpus_per_rank)).first;
  const GangRoom& room = known->second;
  if (room.workers == 0 || spec.resources().world_size() <= room.ranks) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "resources.world_size: ", spec.resources().world_size(), " ranks (", gpus_per_rank,
      " GPUs each) can never be placed: the ", room.workers, " workers known hold at most ", room.ranks));
}

absl::StatusOr<std::vector<v1::MetricSample>> ControlPlane::MetricsAfter(const std::string& name, int64_t* cursor,
                                                                         int64_t after_step, bool* finished) {
  {
    absl::MutexLock lock(&mu_);
    auto entry = FindJob(name);
    if (!entry.ok() && entry.status().code() == absl::StatusCode::kNotFound) {
      // A finished job that left memory: its saved samples, straight from the store.
      auto stored = StoredJob(name);
      if (!stored.ok()) return stored.status();
      auto saved = store_->LoadMetrics(name);
      if (!saved.ok()) return saved.status();
      *finished = true;
      std::vector<v1::MetricSample> out;
      for (size_t i = static_cast<size_t>(std::max<int64_t>(*cursor, 0)); i < saved->size(); ++i) {
        if ((*saved)[i].step() > after_step) out.push_back(std::move((*saved)[i]));
      }
      *cursor = static_cast<int64_t>(saved->size());
      return out;
    }
    if (!entry.ok()) return entry.status();
    const v1::JobState state = (*entry)->job.state();
    // Read before the samples: a job that had ended has reported all of them.
    *finished = state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
                state == v1::JOB_STATE_CANCELLED;
    EnsureHistoryLoaded(name);
  }
  return history_.Read(name, cursor, after_step);
}

absl::StatusOr<LogSource> ControlPlane::FindLogSource(const std::string& name, int32_t rank) {
  absl::MutexLock lock(&mu_);
  auto entry = FindJob(name);
  if (entry.ok()) return LogSourceOf(name, (*entry)->last_attempt, (*entry)->last_rank_workers, rank);
  if (entry.status().code() != absl::StatusCode::kNotFound) return entry.status();
  // A finished job that left memory: its last attempt's placement, from the store.
  if (auto stored = StoredJob(name); !stored.ok()) return stored.status();
  auto attempts = store_->LoadAttempts(name);
  if (!attempts.ok()) return attempts.status();
  if (attempts->empty()) return LogSourceOf(name, 0, {}, rank);
  const store::AttemptRecord& last = attempts->back();
  std::vector<std::string> rank_workers(last.placements.size());
  for (const v1::RankPlacement& p : last.placements) {
    if (p.rank() >= 0 && p.rank() < static_cast<int32_t>(rank_workers.size())) rank_workers[p.rank()] = p.worker();
  }
  return LogSourceOf(name, last.attempt, rank_workers, rank);
}

absl::StatusOr<v1::ListCheckpointsResponse> ControlPlane::ListCheckpoints(const std::string& name) {
  std::string directory;
  {
    absl::MutexLock lock(&mu_);
    auto entry = FindJob(name);
    if (entry.ok()) {
      directory = (*entry)->job.spec().checkpoint().directory();
    } else if (entry.status().code() != absl::StatusCode::kNotFound) {
      return entry.status();
    } else {
      auto stored = StoredJob(name);
      if (!stored.ok()) return stored.status();
      directory = stored->job.spec().checkpoint().directory();
    }
  }
  // The file system is read without the lock.
  auto checkpoints = ListCommittedCheckpoints(directory, name);
  if (!checkpoints.ok()) return checkpoints.status();
  v1::ListCheckpointsResponse response;
  for (auto& checkpoint : *checkpoints) *response.add_checkpoints() = std::move(checkpoint);
  return response;
}

ControlPlaneStats ControlPlane::Stats() const {
  absl::MutexLock lock(&mu_);
  ControlPlaneStats stats;
  const absl::Time now = Now();
  for (int s = v1::JobState_MIN; s <= v1::JobState_MAX; ++s) {
    if (s != v1::JOB_STATE_UNSPECIFIED && v1::JobState_IsValid(s)) stats.jobs_by_state[static_cast<v1::JobState>(s)] = 0;
  }
  for (int s = v1::WorkerState_MIN; s <= v1::WorkerState_MAX; ++s) {
    if (s != v1::WORKER_STATE_UNSPECIFIED && v1::WorkerState_IsValid(s)) {
      stats.workers_by_state[static_cast<v1::WorkerState>(s)] = 0;
    }
  }
  for (const auto& [name, entry] : jobs_) {
    ++stats.jobs_by_state[entry.job.state()];
    if (entry.job.state() == v1::JOB_STATE_QUEUED) ++stats.queue_length;
    if (entry.job.state() != v1::JOB_STATE_RUNNING) continue;
    ControlPlaneStats::JobFigures figures;
    figures.job = name.substr(5);
    const v1::JobProgress& p = entry.job.progress();
    figures.step = static_cast<double>(p.step());
    figures.total_steps = static_cast<double>(p.total_steps());
    figures.train_loss = p.train_loss();
    figures.eval_loss = p.eval_loss();
    figures.tokens_per_second = p.tokens_per_second();
    figures.restarts_used = entry.job.restarts_used();
    if (entry.last_checkpoint_time != absl::InfinitePast()) {
      figures.seconds_since_checkpoint = absl::ToDoubleSeconds(now - entry.last_checkpoint_time);
    }
    figures.checkpoint_save_seconds = entry.checkpoint_save_seconds;
    figures.step_time = entry.step_time;
    figures.tasks.assign(p.tasks().begin(), p.tasks().end());
    stats.running_jobs.push_back(std::move(figures));
  }
  for (const auto& [name, worker] : workers_) {
    ++stats.workers_by_state[worker.worker.state()];
    stats.worker_heartbeat_age_seconds[name.substr(8)] = absl::ToDoubleSeconds(now - worker.last_seen);
    stats.heartbeats_missed_total[name.substr(8)] = workers_.HeartbeatsMissed(name);
  }
  stats.attempts_started_total = attempts_started_;
  stats.attempts_ended_total = attempts_ended_;
  stats.restarts_total = restarts_;
  stats.metric_samples_dropped_total = metric_samples_dropped_;
  stats.jobs_in_memory = static_cast<int64_t>(jobs_.size());
  stats.jobs_forgotten_total = jobs_.forgotten();
  stats.metric_history_bytes = static_cast<int64_t>(history_.bytes());
  return stats;
}

}  // namespace tunefleet::coordinator
