// WorkerService and AdminService's side of the control plane: registration,
// heartbeats (where every command to a worker rides back), cordon and drain.
//
// Reconciliation, not messages: each heartbeat reports every rank the worker
// holds, and the reply is computed from the difference with what the
// coordinator wants there: ranks it should run but does not report are
// (re)sent as assignments; ranks it reports but should not run are stopped.
// A lost reply is therefore repaired by the next heartbeat.

#include <cmath>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/evaluation_report.h"
#include "common/job_spec_limits.h"
#include "common/lineage/lineage_record.h"
#include "common/log.h"
#include "common/metric_sample_limits.h"
#include "common/metric_samples.h"
#include "common/proto_time.h"
#include "common/security/secrets.h"
#include "coordinator/core/control_plane.h"
#include "coordinator/core/worker_lease.h"
#include "coordinator/metrics/task_progress.h"

namespace tunefleet::coordinator {
namespace {

v1::JobLineage ToProto(const Lineage& lineage) {
  v1::JobLineage out;
  out.set_tunefleet_version(lineage.tunefleet_version);
  out.set_spec_sha256(lineage.spec_sha256);
  for (const ContentHash& h : lineage.inputs) {
    v1::JobLineage::Input* input = out.add_inputs();
    input->set_role(h.role);
    input->set_path(h.path);
    input->set_size_bytes(h.size_bytes);
    input->set_sha256(h.sha256);
  }
  return out;
}

// What rank 0 reports once about a job: its lineage (at the start of each
// attempt), that it stopped early, and its after-training evaluation (at the
// end). Each is parsed and checked before it goes into the job's row (the
// last two as job events too); one that does not parse is dropped, named in
// the log.
struct JobReports {
  std::optional<v1::JobLineage> lineage;
  std::optional<v1::JobEvaluation> evaluation;
  std::vector<std::string> events;  // messages of job events

  void ApplyTo(v1::Job& job) const {
    if (lineage) *job.mutable_lineage() = *lineage;
    if (evaluation) *job.mutable_evaluation() = *evaluation;
  }
};

std::map<std::string, JobReports> ParseJobReports(
    const std::map<std::string, std::vector<v1::MetricSample>>& accepted) {
  std::map<std::string, JobReports> reports;
  const auto text_of = [](const v1::MetricSample& sample, const char* key) {
    auto found = sample.text().find(key);
    return found == sample.text().end() ? std::string() : found->second;
  };
  for (const auto& [job, samples] : accepted) {
    for (const v1::MetricSample& sample : samples) {
      if (sample.rank() != 0) continue;
      if (sample.event() == metric_keys::kLineageEvent) {
        auto lineage = LineageFromJson(text_of(sample, metric_keys::kLineage), absl::StrCat(job, " lineage"));
        if (!lineage.ok()) {
          Log("coordinator", absl::StrCat("WARNING dropping a malformed lineage report: ", lineage.status().message()));
          continue;
        }
        reports[job].lineage = ToProto(*lineage);
      } else if (sample.event() == metric_keys::kEvaluationEvent) {
        auto evaluation = EvaluationReportFromJson(text_of(sample, metric_keys::kEvaluation));
        if (!evaluation.ok()) {
          Log("coordinator", absl::StrCat("WARNING dropping a malformed evaluation report of ", job, ": ",
                                          evaluation.status().message()));
          continue;
        }
        if (const v1::JobEvaluation::Row* row = HeadlineRow(*evaluation)) {
          reports[job].events.push_back(absl::StrFormat(
              "evaluated against %s: %s %.1f%% -> %.1f%% (%+.1f pts, %.0f%% interval [%+.1f, %+.1f]) on %d examples",
              evaluation->baseline(), row->metric(), 100 * row->baseline(), 100 * row->candidate(),
              100 * row->difference(), 100 * evaluation->confidence(), 100 * row->ci_low(), 100 * row->ci_high(),
              evaluation->examples()));
        }
        reports[job].evaluation = *std::move(evaluation);
      } else if (sample.event() == metric_keys::kEarlyStopEvent) {
        const auto best_step = sample.values().find(metric_keys::kBestStep);
        const auto best_loss = sample.values().find(metric_keys::kBestEvalLoss);
        if (best_step == sample.values().end() || best_loss == sample.values().end() ||
            !std::isfinite(best_step->second) || !std::isfinite(best_loss->second)) {
          Log("coordinator", absl::StrCat("WARNING dropping a malformed early_stop report of ", job));
          continue;
        }
        reports[job].events.push_back(absl::StrFormat(
            "stopped early after step %d: the validation loss stopped improving (best %.6g at step %.0f)",
            sample.step(), best_loss->second, best_step->second));
      }
    }
  }
  return reports;
}

}  // namespace

namespace {

// 128 bits from the kernel's CSPRNG: a session cannot be guessed from earlier ones.
std::string NewSession() { return security::RandomHex(16); }

}  // namespace

absl::StatusOr<v1::RegisterWorkerResponse> ControlPlane::RegisterWorker(const v1::RegisterWorkerRequest& request) {
  if (request.worker_id().empty() || request.worker_id().find('/') != std::string::npos) {
    return absl::InvalidArgumentError("worker_id: required, without '/'");
  }
  const auto& res = request.resources();
  if (res.gpus_size() == 0 && res.cpu_slots() <= 0) {
    return absl::InvalidArgumentError("resources: a worker needs GPUs or cpu_slots > 0");
  }
  const std::string name = absl::StrCat("workers/", request.worker_id());
  absl::MutexLock lock(&mu_);
  WorkerEntry* const found = workers_.Find(name);
  const bool known = found != nullptr;
  v1::Worker next = known ? found->worker : v1::Worker();
  next.set_name(name);
  *next.mutable_resources() = res;
  next.set_version(request.version());
  if (!known || next.state() == v1::WORKER_STATE_LOST || next.state() == v1::WORKER_STATE_UNSPECIFIED) {
    next.set_state(v1::WORKER_STATE_READY);
  }
  // A worker that drained itself on SIGTERM and came back was restarted, not
  // taken out of service: an operator's drain (or cordon) stays until uncordon.
  if (known && found->drained_itself && next.state() == v1::WORKER_STATE_DRAINED) {
    next.set_state(v1::WORKER_STATE_READY);
    next.clear_drain_deadline();
  }
  *next.mutable_last_heartbeat_time() = ToProtoTime(Now());
  if (auto s = WriteWorker(next); !s.ok()) return s;

  WorkerEntry& entry = workers_.FindOrAdd(name);
  if (known) workers_.CountMissedHeartbeats(entry, Now());  // the silence before a re-registration (not while LOST)
  entry.worker = std::move(next);
  entry.drained_itself = false;
  entry.session = NewSession();
  directives_.CloseWorker(name);  // a stream of the old session ends; the worker opens one for this
  placement_.Want();  // its slots may be new, or freed (ranks it no longer runs)
  entry.last_seen = Now();
  entry.missed_in_gap = 0;
  // Ranks that survived from an attempt that has since ended keep their
  // slots busy until the worker confirms them dead.
  for (const v1::RankStatus& rank : request.running_ranks()) {
    const JobEntry* job = jobs_.Find(rank.job());
    const bool current = job != nullptr && job->job.state() == v1::JOB_STATE_RUNNING &&
                         job->job.generation() == rank.generation();
    if (!current && IsLivePhase(rank.phase())) {
      entry.stopping.push_back(StoppingRanks{rank.job(), rank.generation(), 1, {}});
    }
  }
  Log("coordinator", absl::StrCat(name, " registered (", known ? "again" : "new", "): ", res.gpus_size(), " GPUs, ",
                                  res.cpu_slots(), " CPU slots, state ", v1::WorkerState_Name(entry.worker.state())));
  v1::RegisterWorkerResponse response;
  *response.mutable_worker() = workers_.View(entry);
  response.set_session(entry.session);
  *response.mutable_heartbeat_interval() = ToProtoDuration(options_.heartbeat_interval);
  // Checked at start (main refuses settings without a lease); options of
  // tests that break the bound simply give none.
  if (auto lease = WorkerLease(options_.worker_timeout, options_.heartbeat_interval); lease.ok()) {
    *response.mutable_lease() = ToProtoDuration(*lease);
  }
  return response;
}

absl::StatusOr<std::shared_ptr<DirectiveStreams::Stream>> ControlPlane::OpenDirectiveStream(
    const v1::WatchAssignmentsRequest& request) {
  const std::string name = absl::StrCat("workers/", request.worker_id());
  absl::MutexLock lock(&mu_);
  const WorkerEntry* worker = workers_.Find(name);
  if (worker == nullptr || worker->session.empty() || worker->session != request.session()) {
    return absl::UnauthenticatedError(absl::StrCat(name, ": not the current session; register again"));
  }
  std::shared_ptr<DirectiveStreams::Stream> stream = directives_.Open(name);
  // What was decided while it had no stream goes out now, not at its next heartbeat.
  for (JobEntry* entry : JobsOn(name)) PushStarts(*entry);
  return stream;
}

absl::StatusOr<v1::HeartbeatResponse> ControlPlane::Heartbeat(const v1::HeartbeatRequest& request) {
  const std::string name = absl::StrCat("workers/", request.worker_id());
  absl::MutexLock lock(&mu_);
  v1::HeartbeatResponse response;
  WorkerEntry* const found = workers_.Find(name);
  if (found == nullptr || found->session.empty() || found->session != request.session()) {
    response.set_reregister(true);  // unknown, superseded, lost, or we restarted
    return response;
  }
  WorkerEntry& worker = *found;
  workers_.Heard(worker, Now());
  *worker.worker.mutable_last_heartbeat_time() = ToProtoTime(Now());
  // The worker got SIGTERM: drain it as an operator's drain would.
  if (request.draining() && worker.worker.state() != v1::WORKER_STATE_DRAINING &&
      worker.worker.state() != v1::WORKER_STATE_DRAINED) {
    if (auto s = StartDrain(worker, options_.default_drain_deadline); !s.ok()) return s;  // asked again next beat
    Log("coordinator", absl::StrCat(name, " is draining itself (SIGTERM)"));
    worker.drained_itself = true;
  }

  std::set<std::pair<std::string, int64_t>> reported_live;  // (job, generation)
  std::set<std::pair<std::string, int32_t>> reported_current;  // (job, rank) of current attempts
  std::map<std::pair<std::string, int64_t>, std::string> stop;  // what to stop, and why
  std::vector<std::pair<std::string, std::pair<v1::AttemptEndReason, std::string>>> ended;
  for (const v1::RankStatus& rank : request.ranks()) {
    if (IsLivePhase(rank.phase())) reported_live.emplace(rank.job(), rank.generation());
    JobEntry* const job = jobs_.Find(rank.job());
    const GangAttempt* const gang = gangs_.Find(rank.job());
    const bool current = job != nullptr && gang != nullptr && job->job.state() == v1::JOB_STATE_RUNNING &&
                         job->job.generation() == rank.generation() && rank.rank() >= 0 &&
                         rank.rank() < static_cast<int32_t>(gang->ranks.size()) &&
                         gang->ranks[rank.rank()].worker == name;
    if (!current) {
      // An old attempt's rank (or one we never placed): stop it if it runs,
      // and, if it has ended, tell the worker it may forget it.
      stop.emplace(std::make_pair(rank.job(), rank.generation()), "attempt is not current");
      continue;
    }
    JobEntry& entry = *job;
    gangs_.Report(rank.job(), static_cast<size_t>(rank.rank()), rank.phase(), rank.exit_code(), rank.step(), Now());
    reported_current.emplace(rank.job(), rank.rank());
    if (rank.rank() == 0 && rank.rendezvous_port() > 0 && gang->rendezvous_port != rank.rendezvous_port()) {
      gangs_.SetRendezvousPort(rank.job(), rank.rendezvous_port());
      PushStarts(entry);  // the gang's other workers were waiting for it
    }
    if (rank.step() > entry.job.progress().step()) entry.job.mutable_progress()->set_step(rank.step());
    if (gang->draining) {
      continue;  // exits during a drain end the attempt together, below
    } else if (rank.phase() == v1::RANK_PHASE_FAILED) {
      const std::string detail = absl::StrCat("rank ", rank.rank(), " on ", name, " exited with code ",
                                              rank.exit_code(), rank.message().empty() ? "" : ": ", rank.message());
      if (!gangs_.DeferFailure(rank.job(), name, detail, Now())) {
        ended.push_back({rank.job(), {v1::ATTEMPT_END_REASON_TRAINER_FAILED, detail}});
      }
    } else if (rank.phase() == v1::RANK_PHASE_STOPPED) {
      ended.push_back({rank.job(), {v1::ATTEMPT_END_REASON_DRAINED,
                                    absl::StrCat("rank ", rank.rank(), " was stopped by ", name, " (exit ",
                                                 rank.exit_code(), ")", rank.message().empty() ? "" : ": ",
                                                 rank.message())}});
    }
  }
  // A change that cannot be saved fails the heartbeat (UNAVAILABLE) before
  // any command is sent; the worker reports the same ranks again next time.
  absl::Status saved;
  for (JobEntry* entry : JobsOn(name)) {
    saved.Update(FinishDrainIfDone(*entry));
    // This worker is alive: a failure waiting on it is the job's after all.
    if (auto detail = gangs_.Heard(entry->job.name(), name)) {
      ended.push_back({entry->job.name(), {v1::ATTEMPT_END_REASON_TRAINER_FAILED, *std::move(detail)}});
    }
  }
  // Ranks the worker acknowledged once but no longer reports have vanished
  // (say, the worker restarted): the gang is broken.
  for (JobEntry* entry : JobsOn(name)) {
    const std::vector<RankRuntime>& ranks = gangs_.Find(entry->job.name())->ranks;
    for (size_t r = 0; r < ranks.size(); ++r) {
      const RankRuntime& runtime = ranks[r];
      if (runtime.worker == name && runtime.acknowledged &&
          !reported_current.count({entry->job.name(), static_cast<int32_t>(r)})) {
        ended.push_back({entry->job.name(), {v1::ATTEMPT_END_REASON_WORKER_LOST,
                                             absl::StrCat("rank ", r, " vanished from ", name)}});
        break;
      }
    }
  }
  // Every rank succeeded: the job did. All the attempts this heartbeat ends
  // are saved in one transaction.
  std::vector<EndRequest> ends;
  for (const auto& [job_name, why] : ended) ends.push_back({&jobs_.At(job_name), why.first, why.second});
  for (JobEntry* entry : JobsOn(name)) {
    const std::vector<RankRuntime>& ranks = gangs_.Find(entry->job.name())->ranks;
    bool all = !ranks.empty();
    for (const RankRuntime& runtime : ranks) all = all && runtime.phase == v1::RANK_PHASE_SUCCEEDED;
    if (all) ends.push_back({entry, v1::ATTEMPT_END_REASON_COMPLETED, "every rank exited 0"});
  }
  saved.Update(EndAttempts(ends));
  if (!saved.ok()) return saved;

  // Stopping ranks the worker no longer reports as live are confirmed dead.
  auto& stopping = worker.stopping;
  const size_t stopping_before = stopping.size();
  stopping.erase(std::remove_if(stopping.begin(), stopping.end(),
                                [&](const StoppingRanks& s) {
                                  return !reported_live.count({s.job, s.generation});
                                }),
                 stopping.end());
  if (stopping.size() != stopping_before) placement_.Want();  // slots freed
  for (const StoppingRanks& s : stopping) stop.emplace(std::make_pair(s.job, s.generation), "attempt stopped");
  for (const auto& [key, reason] : stop) {
    auto* command = response.add_stop();
    command->set_job(key.first);
    command->set_generation(key.second);
    command->set_reason(reason);
  }

  // Ranks it should run and has not yet reported: (re)send the assignment.
  for (JobEntry* entry : JobsOn(name)) {
    const GangAttempt& gang = *gangs_.Find(entry->job.name());
    bool missing = false;
    for (const RankRuntime& rank : gang.ranks) {
      if (rank.worker == name && !rank.acknowledged) missing = true;
    }
    if (missing && !gang.WaitsForPort(name)) *response.add_start() = MakeAssignment(*entry, gang, name);
    // A drained gang: every worker holding a rank is asked, once, to SIGTERM
    // its ranks (checkpoint at the next step boundary, exit 75).
    if (gangs_.AskDrain(entry->job.name(), name)) *response.add_checkpoint_now() = DrainRequest(*entry, gang);
  }
  response.set_state(worker.worker.state());
  return response;
}

v1::ListWorkersResponse ControlPlane::ListWorkers(const v1::ListWorkersRequest& request) {
  const int32_t page_size = request.page_size() <= 0 ? 100 : std::min(request.page_size(), 1000);
  absl::MutexLock lock(&mu_);
  v1::ListWorkersResponse response;
  // The token is the last name listed; names sort. Full by count or by bytes.
  size_t page_bytes = 0;
  for (auto it = workers_.After(request.page_token()); it != workers_.end(); ++it) {
    v1::Worker view = workers_.View(it->second);
    const size_t view_bytes = view.ByteSizeLong();
    if (response.workers_size() == page_size ||
        (response.workers_size() > 0 && page_bytes + view_bytes > options_.list_page_bytes)) {
      response.set_next_page_token(response.workers(response.workers_size() - 1).name());
      break;
    }
    *response.add_workers() = std::move(view);
    page_bytes += view_bytes;
  }
  return response;
}

absl::StatusOr<v1::Worker> ControlPlane::GetWorker(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto worker = workers_.Get(name);
  if (!worker.ok()) return worker.status();
  return workers_.View(**worker);
}

absl::StatusOr<v1::Worker> ControlPlane::CordonWorker(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto worker = workers_.Get(name);
  if (!worker.ok()) return worker.status();
  WorkerEntry& entry = **worker;
  if (entry.worker.state() == v1::WORKER_STATE_READY) {
    v1::Worker next = entry.worker;
    next.set_state(v1::WORKER_STATE_CORDONED);
    if (auto s = WriteWorker(next); !s.ok()) return s;
    entry.worker = std::move(next);
    Log("coordinator", absl::StrCat(name, " cordoned"));
  }
  return workers_.View(entry);
}

absl::StatusOr<v1::Worker> ControlPlane::UncordonWorker(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto worker = workers_.Get(name);
  if (!worker.ok()) return worker.status();
  WorkerEntry& entry = **worker;
  if (entry.worker.state() == v1::WORKER_STATE_LOST) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is LOST; it returns when it registers again"));
  }
  v1::Worker next = entry.worker;
  next.set_state(v1::WORKER_STATE_READY);
  next.clear_drain_deadline();
  if (auto s = WriteWorker(next); !s.ok()) return s;
  entry.worker = std::move(next);
  placement_.Want();
  Log("coordinator", absl::StrCat(name, " uncordoned"));
  return workers_.View(entry);
}

absl::StatusOr<v1::Worker> ControlPlane::DrainWorker(const v1::DrainWorkerRequest& request) {
  absl::Duration deadline = options_.default_drain_deadline;
  if (request.has_deadline()) {
    deadline = FromProtoDuration(request.deadline());
    if (deadline < absl::ZeroDuration()) return absl::InvalidArgumentError("deadline: must not be negative");
  }
  absl::MutexLock lock(&mu_);
  auto worker = workers_.Get(request.name());
  if (!worker.ok()) return worker.status();
  WorkerEntry& entry = **worker;
  if (entry.worker.state() == v1::WORKER_STATE_LOST) {
    return absl::FailedPreconditionError(absl::StrCat(request.name(), " is LOST"));
  }
  if (entry.worker.state() != v1::WORKER_STATE_DRAINING && entry.worker.state() != v1::WORKER_STATE_DRAINED) {
    if (auto s = StartDrain(entry, deadline); !s.ok()) return s;
  }
  entry.drained_itself = false;  // an operator's drain outlasts a restart
  return workers_.View(entry);
}

absl::Status ControlPlane::StartDrain(WorkerEntry& worker, absl::Duration deadline) {
  v1::Worker next = worker.worker;
  next.set_state(v1::WORKER_STATE_DRAINING);
  *next.mutable_drain_deadline() = ToProtoTime(Now() + deadline);
  if (auto s = WriteWorker(next); !s.ok()) return s;
  worker.worker = std::move(next);
  Log("coordinator", absl::StrCat(worker.worker.name(), " draining, deadline ", absl::FormatDuration(deadline)));
  CheckDrains();  // marks its gangs draining; an idle worker is DRAINED at once
  return absl::OkStatus();
}

absl::Status ControlPlane::FinishDrainIfDone(JobEntry& entry) {
  if (entry.job.state() != v1::JOB_STATE_RUNNING) return absl::OkStatus();
  const std::optional<std::string> drained = gangs_.DrainComplete(entry.job.name());
  if (!drained.has_value()) return absl::OkStatus();
  return EndAttempt(entry, v1::ATTEMPT_END_REASON_DRAINED, *drained);
}

void ControlPlane::EnsureHistoryLoaded(const std::string& job) {
  if (!history_loaded_.insert(job).second) return;
  auto saved = store_->LoadMetrics(job);
  if (!saved.ok()) {
    Log("coordinator", absl::StrCat("WARNING: ", job, ": saved metric samples unreadable: ", saved.status().ToString()));
    return;
  }
  for (const v1::MetricSample& sample : *saved) history_.Add(job, sample);
}

absl::Status ControlPlane::ReportMetrics(const v1::ReportMetricsRequest& request) {
  const std::string name = absl::StrCat("workers/", request.worker_id());
  absl::MutexLock lock(&mu_);
  const WorkerEntry* worker = workers_.Find(name);
  if (worker == nullptr || worker->session.empty() || worker->session != request.session()) {
    return absl::UnauthenticatedError(absl::StrCat(name, ": not its current session; register again"));
  }
  for (const v1::MetricSample& sample : request.samples()) {
    if (auto s = metric_sample_limits::CheckSample(sample); !s.ok()) return s;
  }
  // Only ranks this worker holds in a current attempt may speak, checked
  // before anything is stored: one forged sample refuses the whole report.
  for (const v1::MetricSample& sample : request.samples()) {
    const JobEntry* job = jobs_.Find(sample.job());
    if (job == nullptr || job->job.state() != v1::JOB_STATE_RUNNING || job->job.generation() != request.generation()) {
      continue;  // stale: dropped below, as fencing always did
    }
    const auto& ranks = gangs_.Find(sample.job())->ranks;
    if (sample.rank() < 0 || sample.rank() >= static_cast<int32_t>(ranks.size()) ||
        ranks[sample.rank()].worker != name) {
      return absl::PermissionDeniedError(
          absl::StrCat(sample.job(), " rank ", sample.rank(), " is not placed on ", name));
    }
  }
  // Fencing: a stale attempt's trainer never reports for the new one.
  std::map<std::string, std::vector<v1::MetricSample>> accepted;
  for (const v1::MetricSample& sample : request.samples()) {
    const JobEntry* job = jobs_.Find(sample.job());
    if (job == nullptr || job->job.state() != v1::JOB_STATE_RUNNING || job->job.generation() != request.generation()) {
      continue;
    }
    // Past its rate a rank's samples are dropped, not refused: a refusal
    // would make the worker send them again. The events the control plane
    // acts on (checkpoints) always pass.
    if (!sample_rate_.Admit(absl::StrCat(sample.job(), " ", sample.rank()), Now()) &&
        sample.event() != metric_keys::kCheckpointEvent) {
      ++metric_samples_dropped_;
      continue;
    }
    accepted[sample.job()].push_back(sample);
  }
  // A job's reports go into its row before memory shows them.
  const std::map<std::string, JobReports> reports = ParseJobReports(accepted);
  for (const auto& [job, report] : reports) {
    const JobEntry& entry = jobs_.At(job);
    v1::Job next = entry.job;
    report.ApplyTo(next);
    std::vector<v1::JobEvent> events;
    for (const std::string& message : report.events) {
      v1::JobEvent event = MakeEvent(entry, next, message);
      event.set_sequence(entry.last_event + 1 + static_cast<int64_t>(events.size()));
      events.push_back(std::move(event));
    }
    if (auto s = store_->UpdateJob(next, events); !s.ok()) {
      Log("coordinator", absl::StrCat("ERROR saving the reports (lineage, evaluation) of ", job, ": ", s.ToString()));
      return absl::UnavailableError(absl::StrCat("the coordinator could not save a job's reports: ", s.message()));
    }
    // Memory follows the row at once: its events' sequence numbers are taken.
    JobEntry& stored = jobs_.At(job);
    report.ApplyTo(stored.job);
    for (const v1::JobEvent& event : events) Announce(stored, event);
  }
  // Saved first (for WatchJobMetrics and `tunefleet plot` after a restart);
  // the worker keeps what was refused and sends it again.
  for (const auto& [job, samples] : accepted) {
    EnsureHistoryLoaded(job);
    const store::MetricRetention keep{static_cast<int64_t>(options_.metrics_history),
                                      static_cast<int64_t>(options_.metrics_history_job_bytes)};
    if (auto s = store_->AppendMetrics(job, samples, keep); !s.ok()) {
      Log("coordinator", absl::StrCat("ERROR saving metric samples of ", job, ": ", s.ToString()));
      return absl::UnavailableError(absl::StrCat("the coordinator could not save metric samples: ", s.message()));
    }
  }

  for (const auto& [job, samples] : accepted) {
    JobEntry& entry = jobs_.At(job);
    v1::JobProgress& progress = *entry.job.mutable_progress();
    for (const v1::MetricSample& sample : samples) {
      auto value = [&](const char* key) -> const double* {
        auto found = sample.values().find(key);
        return found == sample.values().end() ? nullptr : &found->second;
      };
      if (sample.step() > progress.step()) progress.set_step(sample.step());
      if (sample.rank() == 0) {  // one rank speaks for the job's figures
        // A worker's figure, checked before the cast: NaN, Inf or a value
        // past int64 makes static_cast undefined behaviour. Anything outside
        // the spec's own step limit is dropped (the last good figure stays).
        if (const double* v = value(metric_keys::kTotalSteps);
            v && std::isfinite(*v) && *v >= 0 && *v <= static_cast<double>(job_spec_limits::kMaxSteps)) {
          progress.set_total_steps(static_cast<int64_t>(*v));
        }
        if (const double* v = value(metric_keys::kTrainLoss)) progress.set_train_loss(*v);
        if (const double* v = value(metric_keys::kEvalLoss)) progress.set_eval_loss(*v);
        if (const double* v = value(metric_keys::kTokensPerSecond)) progress.set_tokens_per_second(*v);
        if (const double* v = value(metric_keys::kLearningRate)) progress.set_learning_rate(*v);
        AddTaskFigures(sample, entry.job.spec().dataset(), progress);
        AddStepTime(sample, entry.step_time);
        if (sample.event() == metric_keys::kStepEvent) *progress.mutable_step_time() = ToStepTimeSplit(entry.step_time);
      }
      if (CheckpointCommitted(sample)) {
        if (sample.step() > progress.last_checkpoint_step()) progress.set_last_checkpoint_step(sample.step());
        entry.last_checkpoint_time = Now();
        if (const double* v = value(metric_keys::kSaveSeconds)) entry.checkpoint_save_seconds = *v;
      }
      history_.Add(job, sample);
    }
  }
  return absl::OkStatus();
}

}  // namespace tunefleet::coordinator
