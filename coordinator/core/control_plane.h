#pragma once
// The coordinator's rules: jobs and their attempts, workers, placement,
// failure detection and drain, over managers that each own one part of the
// state in memory: JobTable (jobs, the queue), WorkerRegistry (workers,
// liveness, what runs where), GangSupervisor (running attempts: their ranks,
// drains, deferred failures, hung gangs), PlacementPass (when a pass is due,
// group limits), DirectiveStreams (pushes to workers). The gRPC services
// (coordinator/service/) are thin adapters over this class; the durable copy
// lives in the Store, written here before any manager is changed.
//
// One mutex guards the managers: each operation is short (no I/O but SQLite
// commits, which one connection serializes anyway), and one lock makes every
// transition atomic across jobs, workers and the queue. The rules are split
// by concern: control_plane.cc (loading, attempts' starts and ends),
// control_plane_jobs.cc (JobService), control_plane_workers.cc
// (WorkerService, AdminService), control_plane_tick.cc (liveness, drain
// deadlines, hung ranks, the placement pass), control_plane_retention.cc
// (what leaves memory, and reading it back from the Store),
// control_plane_groups.cc (jobs submitted as a group).
//
// docs/control_plane.md, "Inside the coordinator", has the map.

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/group_commit.h"
#include "common/grpc_limits.h"
#include "coordinator/core/directive_streams.h"
#include "coordinator/core/gang_supervisor.h"
#include "coordinator/core/job_table.h"
#include "coordinator/core/placement_pass.h"
#include "coordinator/core/resource_name.h"
#include "coordinator/core/worker_registry.h"
#include "coordinator/jobs/job_lifecycle.h"
#include "coordinator/metrics/metric_history.h"
#include "coordinator/metrics/sample_rate_limiter.h"
#include "coordinator/metrics/step_time.h"
#include "coordinator/scheduler/scheduler.h"
#include "coordinator/store/store.h"
#include "tunefleet/v1/admin_service.pb.h"
#include "tunefleet/v1/job_service.pb.h"
#include "tunefleet/v1/worker_service.pb.h"

namespace tunefleet::coordinator {

struct ControlPlaneOptions {
  // Told to workers at registration.
  absl::Duration heartbeat_interval = absl::Seconds(3);
  // A worker silent this long is LOST and its attempts are stopped.
  absl::Duration worker_timeout = absl::Seconds(15);
  jobs::BackoffPolicy backoff;
  scheduler::Options scheduling;
  absl::Duration default_drain_deadline = absl::Minutes(5);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Hung ranks: no step advance for max(hang_multiplier x recent step time,
  // hang_floor), or hang_startup before the first step.
  double hang_multiplier = 10;
  absl::Duration hang_floor = absl::Minutes(2);
  absl::Duration hang_startup = absl::Minutes(10);
  // Metric samples kept in memory (MetricHistory): per job by count and
  // bytes, and bytes across all jobs; past them older points are thinned.
  size_t metrics_history = 10000;
  size_t metrics_history_job_bytes = MetricHistoryLimits{}.bytes_per_job;
  size_t metrics_history_bytes = MetricHistoryLimits{}.total_bytes;
  // Samples a rank may report, per second on average and at once; past that
  // they are dropped and counted (checkpoint events never are: the control
  // plane acts on them). rate <= 0: no limit.
  double metrics_rate_per_rank = 100;
  double metrics_burst_per_rank = 1000;
  // A List page ends before its items pass this many bytes (and at its
  // page_size): every page fits in a gRPC message.
  size_t list_page_bytes = kMaxListPageBytes;
  // A job that ended this long ago leaves memory; the Store still serves it
  // (GetJob, ListJobs, events, metrics, logs). InfiniteDuration(): never.
  absl::Duration finished_job_retention = absl::Hours(1);
  // A worker LOST this long leaves the registry (memory, Store, /metrics).
  absl::Duration gone_worker_retention = absl::Hours(24);
  // Jobs one user may have QUEUED or RUNNING at once; CreateJob past it is
  // RESOURCE_EXHAUSTED. 0: no quota.
  int64_t max_active_jobs_per_user = 1000;
  // Every path of a job spec must lie under one of these; empty: any path.
  std::vector<std::string> allowed_path_roots;
  // Called (under the lock; keep it cheap) with each placed job's queue wait.
  std::function<void(absl::Duration)> on_placed;
  // Called (under the lock) with the duration of each placement pass that
  // ran: building the queue and deciding, not the commit of its placements.
  std::function<void(absl::Duration)> on_placement_pass;
};

// Figures for /metrics, taken in one pass under the lock.
struct ControlPlaneStats {
  std::map<v1::JobState, int64_t> jobs_by_state;
  int64_t queue_length = 0;  // QUEUED jobs, backing off included
  std::map<v1::WorkerState, int64_t> workers_by_state;
  std::map<std::string, double> worker_heartbeat_age_seconds;
  std::map<std::string, int64_t> heartbeats_missed_total;  // by worker id; see WorkerRegistry::CountMissedHeartbeats
  int64_t attempts_started_total = 0;
  std::map<std::string, int64_t> attempts_ended_total;  // by reason
  std::map<std::string, int64_t> restarts_total;         // requeues, by reason
  struct JobFigures {
    std::string job;  // id
    double step = 0, total_steps = 0, train_loss = 0, eval_loss = 0, tokens_per_second = 0;
    double restarts_used = 0;
    double seconds_since_checkpoint = -1;  // -1: none yet
    double checkpoint_save_seconds = -1;
    StepTime step_time;  // the newest step's, by phase (coordinator/metrics/step_time.h)
    std::vector<v1::TaskProgress> tasks;  // multi-task jobs: bounded (coordinator/metrics/task_progress.h)
  };
  std::vector<JobFigures> running_jobs;
  int64_t jobs_in_memory = 0;  // active ones and those within finished_job_retention
  int64_t jobs_forgotten_total = 0;  // finished jobs that left memory (still in the Store)
  int64_t metric_samples_dropped_total = 0;  // past a rank's rate (ControlPlaneOptions)
  int64_t metric_history_bytes = 0;
};

// Where a rank's log is: the worker's log service and the attempt.
struct LogSource {
  std::string log_address;
  int64_t attempt = 0;
  std::string worker_id;  // the name its log service's certificate must carry
};

class ControlPlane {
 public:
  // Loads every job and worker from `store`. Workers get a fresh timeout to
  // re-register; running attempts are kept, to be reconciled with what the
  // workers report.
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Create(std::unique_ptr<store::Store> store,
                                                              ControlPlaneOptions options);

  // JobService.
  // `owner`: the submitting user, recorded in the job (see Job.owner).
  absl::StatusOr<v1::Job> CreateJob(const v1::CreateJobRequest& request, const std::string& owner = "");
  // A group of jobs submitted together (a sweep's points, coordinator/sweeps/):
  // checked like CreateJob (the owner's quota counts every member), then all
  // or none saved by `insert`, which writes the group's own row in the same
  // transaction. At most `max_running` members RUNNING at once (0: no
  // limit); the others stay QUEUED until members end.
  struct JobGroup {
    std::string name;  // each member's Job.sweep
    std::string owner;
    std::vector<std::pair<std::string, v1::JobSpec>> members;  // job id, spec
    int32_t max_running = 0;
  };
  using GroupInsert =
      std::function<absl::StatusOr<std::vector<int64_t>>(store::Store&, const std::vector<store::NewJob>&)>;
  absl::StatusOr<std::vector<v1::Job>> CreateJobGroup(const JobGroup& group, const GroupInsert& insert);
  // The group's running limit, again after a restart (its jobs are loaded
  // with their Job.sweep; the limit lives with the group).
  void LimitGroup(const std::string& group, int32_t max_running);
  // Runs `use` on the Store under the control plane's lock (the Store is not
  // thread-safe): for managers keeping rows of their own beside the jobs.
  absl::Status WithStore(const std::function<absl::Status(store::Store&)>& use);
  absl::StatusOr<v1::Job> GetJob(const std::string& name);
  absl::StatusOr<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request);
  absl::StatusOr<v1::Job> CancelJob(const std::string& name);
  // Events with sequence > `after`; `finished` is set when the job has ended
  // and nothing follows these.
  absl::StatusOr<std::vector<v1::JobEvent>> EventsAfter(const std::string& name, int64_t after, bool* finished);
  // Blocks until the job has an event after `after`, or `timeout`.
  void WaitForEvents(const std::string& name, int64_t after, absl::Duration timeout);

  // WatchJobMetrics: samples from position `*cursor` with step > after_step;
  // `finished` is set when the job had ended before they were read.
  absl::StatusOr<std::vector<v1::MetricSample>> MetricsAfter(const std::string& name, int64_t* cursor,
                                                             int64_t after_step, bool* finished);
  void WaitForMetrics(const std::string& name, int64_t cursor, absl::Duration timeout) const {
    history_.Wait(name, cursor, timeout);
  }
  // ReadJobLogs: where rank `rank` of the current (or last) attempt ran.
  absl::StatusOr<LogSource> FindLogSource(const std::string& name, int32_t rank);
  absl::StatusOr<v1::ListCheckpointsResponse> ListCheckpoints(const std::string& name);

  // WorkerService.
  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(const v1::RegisterWorkerRequest& request);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  // Samples of a generation that is not the job's current one are dropped (fencing).
  // INVALID_ARGUMENT, storing nothing, for a sample past
  // common/metric_sample_limits.h; samples past a rank's rate are dropped
  // (counted in Stats), not refused.
  // UNAUTHENTICATED for a session that is not the worker's current one;
  // PERMISSION_DENIED, storing nothing, when a sample of a current attempt is
  // for a rank not placed on this worker.
  absl::Status ReportMetrics(const v1::ReportMetricsRequest& request);

  // WatchAssignments: a stream for the worker's current session
  // (UNAUTHENTICATED otherwise), replacing any it had. Whatever the worker
  // should start and has not acknowledged is pushed on it at once.
  absl::StatusOr<std::shared_ptr<DirectiveStreams::Stream>> OpenDirectiveStream(
      const v1::WatchAssignmentsRequest& request);
  DirectiveStreams& directive_streams() { return directives_; }

  ControlPlaneStats Stats() const;

  // AdminService.
  v1::ListWorkersResponse ListWorkers(const v1::ListWorkersRequest& request);
  absl::StatusOr<v1::Worker> GetWorker(const std::string& name);
  absl::StatusOr<v1::Worker> CordonWorker(const std::string& name);
  absl::StatusOr<v1::Worker> UncordonWorker(const std::string& name);
  absl::StatusOr<v1::Worker> DrainWorker(const v1::DrainWorkerRequest& request);

  // Periodic work: lost workers, drain deadlines, placement. The coordinator
  // calls it from one thread every few hundred milliseconds; tests call it directly.
  void Tick();
  // Waits up to `wait` for something that may let a queued job start (a
  // submission, an attempt's end, a worker registering), then runs the
  // placement pass; false when nothing came. The coordinator runs it in a
  // loop on a thread of its own, so a submission is placed in milliseconds
  // rather than at the next tick.
  bool RunPlacementPass(absl::Duration wait);

 private:
  // CreateJob's group commit (submissions_): submissions that arrive while
  // one batch is being saved are saved together by the next leader in one
  // transaction (one fsync), so durable throughput grows with concurrency.
  struct Submission {
    const v1::CreateJobRequest* request = nullptr;
    v1::JobSpec spec;  // with defaults, validated
    std::string owner;  // the submitting user
  };
  std::vector<absl::StatusOr<v1::Job>> SaveSubmissions(const std::vector<Submission*>& batch)
      ABSL_LOCKS_EXCLUDED(mu_);

  ControlPlane(std::unique_ptr<store::Store> store, ControlPlaneOptions options)
      : store_(std::move(store)),
        options_(std::move(options)),
        workers_(options_.heartbeat_interval),
        gangs_(HangPolicy{options_.hang_multiplier, options_.hang_floor, options_.hang_startup},
               options_.worker_timeout),
        sample_rate_(options_.metrics_rate_per_rank, options_.metrics_burst_per_rank),
        history_(MetricHistoryLimits{options_.metrics_history, options_.metrics_history_job_bytes,
                                     options_.metrics_history_bytes}),
        placement_(options_.scheduling) {}
  absl::Status Load();

  absl::Time Now() const { return options_.clock(); }
  // Write, then apply: every change is built on a copy, written by one of
  // these, and applied to memory only once the write succeeded. A failed
  // write leaves memory as it was and returns UNAVAILABLE, which fails the
  // RPC that asked (or, for the periodic work, is tried again next tick).
  absl::Status WriteJob(const JobEntry& entry, const v1::Job& next, const std::vector<v1::JobEvent>& events,
                        const std::optional<store::AttemptRecord>& attempt = std::nullopt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteWorker(const v1::Worker& next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The next event of `entry`, describing `job` (its state after the change).
  v1::JobEvent MakeEvent(const JobEntry& entry, const v1::Job& job, const std::string& message) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After the write: the event is the job's newest; watchers wake.
  void Announce(JobEntry& entry, const v1::JobEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<JobEntry*> FindJob(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A placement, built on copies: the job's next row, its event, its ranks.
  struct PreparedStart {
    JobEntry* entry = nullptr;
    absl::Time now;
    v1::Job job;
    std::vector<RankRuntime> ranks;
    std::vector<std::string> rank_workers;
    store::AttemptRecord attempt;
    v1::JobEvent event;
  };
  PreparedStart PrepareStart(JobEntry& entry, const scheduler::Placement& placement, int64_t generation) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Group commit: every placement of one pass in one transaction, then applied
  // (and pushed to the workers); a failed write places none.
  absl::Status StartAttempts(std::vector<PreparedStart> starts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyStart(PreparedStart& start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pushes each of the gang's workers its assignment (WatchAssignments).
  void PushStarts(const JobEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pushes the gang's workers the drain (checkpoint, exit 75) of its attempt.
  void PushDrain(const JobEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The request to checkpoint and exit 75 by the drain's deadline, as pushed
  // and as a heartbeat's reply carries it.
  v1::CheckpointRequest DrainRequest(const JobEntry& entry, const GangAttempt& gang) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Several jobs' changes, written in one transaction (WriteJob for one).
  absl::Status WriteJobs(const std::vector<const JobEntry*>& entries, std::vector<store::Store::JobUpdate> updates)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void StopRanksDirective(const std::string& job, int64_t generation, const std::string& reason,
                                 v1::StopRanks* out);
  // The only way a job's row in memory changes state: keeps queue_ current.
  void SetJob(JobEntry& entry, v1::Job next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  struct EndRequest {
    JobEntry* entry;
    v1::AttemptEndReason reason;
    std::string detail;
  };
  // EndAttempt of several jobs in one transaction; a job named twice ends with the first reason.
  absl::Status EndAttempts(const std::vector<EndRequest>& requests) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops the current attempt on every worker and moves the job on (see
  // jobs::AfterAttempt). Every call is one event.
  absl::Status EndAttempt(JobEntry& entry, v1::AttemptEndReason reason, const std::string& detail)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status MarkWorkerLost(WorkerEntry& worker, const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CheckDrains() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StartDrain(WorkerEntry& worker, absl::Duration deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A drained attempt whose ranks have all exited ends (DRAINED, not counted).
  absl::Status FinishDrainIfDone(JobEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends what the supervisor finds due (overdue deferred failures, hung
  // gangs); an end not saved is found due again at the next tick.
  void EndOnVerdicts(const std::vector<GangSupervisor::Verdict>& verdicts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Finished jobs and gone workers past their retention leave memory.
  void ForgetPastRetention() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A job that is not in memory (finished past its retention), from the
  // Store; NOT_FOUND when it never existed.
  absl::StatusOr<store::StoredJob> StoredJob(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Where rank `rank` of attempt `attempt` ran (`rank_workers`: by rank).
  absl::StatusOr<LogSource> LogSourceOf(const std::string& name, int64_t attempt,
                                        const std::vector<std::string>& rank_workers, int32_t rank) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The ranks of `gpus_per_rank` GPUs each (CPU slots at 0) that the workers
  // known and not LOST hold together, and how many workers those are.
  struct GangRoom {
    int64_t workers = 0;
    int64_t ranks = 0;
  };
  GangRoom RoomFor(int32_t gpus_per_rank) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FAILED_PRECONDITION when the gang exceeds every worker known (not LOST)
  // together. `rooms` keeps RoomFor's answers across the checks of one batch
  // (a walk over every worker each; the workers do not change under mu_).
  absl::Status CheckGangFits(const v1::JobSpec& spec, std::map<int32_t, GangRoom>* rooms) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PlaceQueuedJobs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Jobs whose current attempt has ranks on `worker`, by name.
  std::vector<JobEntry*> JobsOn(const std::string& worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds (or removes) a job's current ranks to (from) the registry's count of what runs where.
  void IndexRanks(const std::string& job, const std::vector<RankRuntime>& ranks, bool add)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::Assignment MakeAssignment(const JobEntry& entry, const GangAttempt& gang, const std::string& worker) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job's samples saved before a coordinator restart, into history_ once.
  void EnsureHistoryLoaded(const std::string& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<store::Store> store_;
  const ControlPlaneOptions options_;

  GroupCommit<Submission, absl::StatusOr<v1::Job>> submissions_;  // taken before mu_

  mutable absl::Mutex mu_;
  absl::CondVar events_changed_;  // signalled on every new event
  static constexpr int64_t kEventPage = 1000;  // events read from the store per EventsAfter
  // Jobs in memory, by name, order and request id, and the queue of QUEUED ones.
  JobTable jobs_ ABSL_GUARDED_BY(mu_);
  // Workers, their liveness, and what runs on each (kept by StartAttempt,
  // EndAttempt and Load through IndexRanks): every heartbeat asks which jobs
  // run on its worker, and every placement pass each worker's free capacity.
  WorkerRegistry workers_ ABSL_GUARDED_BY(mu_);
  // Running attempts (one per RUNNING job, kept by StartAttempts, EndAttempts
  // and Load): their ranks as reported, drains, deferred failures, and when
  // each gang would be hung.
  GangSupervisor gangs_ ABSL_GUARDED_BY(mu_);
  int64_t last_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t attempts_started_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> attempts_ended_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> restarts_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> history_loaded_ ABSL_GUARDED_BY(mu_);
  SampleRateLimiter sample_rate_ ABSL_GUARDED_BY(mu_);  // keyed "job rank"
  int64_t metric_samples_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  MetricHistory history_;  // its own lock; taken after mu_, never before
  // Whether a pass is due (RunPlacementPass waits for it), the free capacity
  // the last one left, and the groups' running limits.
  PlacementPass placement_ ABSL_GUARDED_BY(mu_);
  DirectiveStreams directives_;  // its own lock; taken after mu_, never before
};

}  // namespace tunefleet::coordinator
