#include "coordinator/metrics/coordinator_metrics.h"

#include <prometheus/metric_family.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/metrics_endpoint.h"
#include "coordinator/metrics/rpc_metrics_interceptor.h"

namespace tunefleet::coordinator {
namespace {

using Labels = MetricLabels;

// "JOB_STATE_RUNNING" -> "running".
std::string Short(const std::string& name, const std::string& prefix) {
  return absl::AsciiStrToLower(absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name);
}

// Unary calls take milliseconds; streams (WatchJobEvents, ReadJobLogs) last
// as long as the client watches and land in the top buckets.
const prometheus::Histogram::BucketBoundaries& RpcBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600};
  return *buckets;
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  const prometheus::Histogram::BucketBoundaries wait_buckets = {0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400};
  queue_wait_ = &prometheus::BuildHistogram()
                     .Name("tunefleet_job_queue_wait_seconds")
                     .Help("Time from QUEUED (or requeued) to placement, per attempt")
                     .Register(*registry_)
                     .Add({}, wait_buckets);
  const prometheus::Histogram::BucketBoundaries pass_buckets = {0.0001, 0.0005, 0.001, 0.005, 0.01,
                                                                0.05,   0.1,    0.5,   1};
  pass_ = &prometheus::BuildHistogram()
               .Name("tunefleet_scheduling_pass_seconds")
               .Help("Duration of one control-plane pass: liveness, drains, hung ranks, placement")
               .Register(*registry_)
               .Add({}, pass_buckets);
  placement_pass_ = &prometheus::BuildHistogram()
                         .Name("tunefleet_placement_pass_seconds")
                         .Help("Duration of one placement pass that ran: the queue and the scheduler's decision "
                               "(the placements' commit, one fsync, follows)")
                         .Register(*registry_)
                         .Add({}, pass_buckets);
  rpcs_ = &prometheus::BuildCounter()
               .Name("tunefleet_rpcs_total")
               .Help("RPCs the coordinator answered, by method and status code")
               .Register(*registry_);
  rpc_seconds_ = &prometheus::BuildHistogram()
                      .Name("tunefleet_rpc_duration_seconds")
                      .Help("Time from an RPC's arrival to its status, by method")
                      .Register(*registry_);
}

void CoordinatorMetrics::ObserveRpc(const std::string& method, grpc::StatusCode code, absl::Duration duration) {
  rpcs_->Add({{"method", method}, {"code", RpcCodeLabel(code)}}).Increment();
  rpc_seconds_->Add({{"method", method}}, RpcBuckets()).Observe(absl::ToDoubleSeconds(duration));
}

std::vector<prometheus::MetricFamily> CoordinatorMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  if (plane_ == nullptr) return families;
  const ControlPlaneStats stats = plane_->Stats();
  using prometheus::MetricType;
  auto jobs = MetricFamilyOf("tunefleet_jobs", "Jobs by state", MetricType::Gauge);
  for (const auto& [state, n] : stats.jobs_by_state) {
    AddSample(jobs, {{"state", Short(v1::JobState_Name(state), "JOB_STATE_")}}, static_cast<double>(n));
  }
  auto queue = MetricFamilyOf("tunefleet_queue_length", "Jobs QUEUED (waiting or backing off)", MetricType::Gauge);
  AddSample(queue, {}, static_cast<double>(stats.queue_length));
  auto workers = MetricFamilyOf("tunefleet_workers", "Workers by state", MetricType::Gauge);
  for (const auto& [state, n] : stats.workers_by_state) {
    AddSample(workers, {{"state", Short(v1::WorkerState_Name(state), "WORKER_STATE_")}}, static_cast<double>(n));
  }
  auto age = MetricFamilyOf("tunefleet_worker_heartbeat_age_seconds", "Seconds since each worker's last heartbeat",
                    MetricType::Gauge);
  for (const auto& [worker, seconds] : stats.worker_heartbeat_age_seconds) AddSample(age, {{"worker", worker}}, seconds);
  auto missed = MetricFamilyOf("tunefleet_worker_heartbeats_missed_total",
                       "Heartbeat intervals a live worker let pass without a heartbeat (counted from 1.5 intervals)",
                       MetricType::Counter);
  for (const auto& [worker, n] : stats.heartbeats_missed_total) {
    AddSample(missed, {{"worker", worker}}, static_cast<double>(n));
  }
  auto started = MetricFamilyOf("tunefleet_attempts_started_total", "Attempts placed since the coordinator started",
                        MetricType::Counter);
  AddSample(started, {}, static_cast<double>(stats.attempts_started_total));
  auto ended = MetricFamilyOf("tunefleet_attempts_ended_total", "Attempts ended, by reason", MetricType::Counter);
  for (const auto& [reason, n] : stats.attempts_ended_total) {
    AddSample(ended, {{"reason", Short(reason, "ATTEMPT_END_REASON_")}}, static_cast<double>(n));
  }
  auto restarts = MetricFamilyOf("tunefleet_restarts_total", "Jobs requeued after an attempt ended, by reason",
                         MetricType::Counter);
  for (const auto& [reason, n] : stats.restarts_total) {
    AddSample(restarts, {{"reason", Short(reason, "ATTEMPT_END_REASON_")}}, static_cast<double>(n));
  }
  auto forgotten = MetricFamilyOf("tunefleet_jobs_forgotten_total",
                                   "Finished jobs that left memory after --finished-job-retention (still in the database)",
                                   MetricType::Counter);
  AddSample(forgotten, {}, static_cast<double>(stats.jobs_forgotten_total));
  auto dropped = MetricFamilyOf("tunefleet_metric_samples_dropped_total",
                                 "Metric samples dropped because their rank reported past its rate limit",
                                 MetricType::Counter);
  AddSample(dropped, {}, static_cast<double>(stats.metric_samples_dropped_total));
  auto history = MetricFamilyOf("tunefleet_metric_history_bytes",
                                "Memory held by the metric samples kept for WatchJobMetrics, all jobs", MetricType::Gauge);
  AddSample(history, {}, static_cast<double>(stats.metric_history_bytes));
  auto step = MetricFamilyOf("tunefleet_job_step", "Newest step of a running job", MetricType::Gauge);
  auto total = MetricFamilyOf("tunefleet_job_total_steps", "Steps a running job will train", MetricType::Gauge);
  auto train = MetricFamilyOf("tunefleet_job_train_loss", "Newest training loss (rank 0)", MetricType::Gauge);
  auto eval = MetricFamilyOf("tunefleet_job_eval_loss", "Newest evaluation loss (rank 0)", MetricType::Gauge);
  auto tps = MetricFamilyOf("tunefleet_job_tokens_per_second", "Newest throughput (rank 0)", MetricType::Gauge);
  auto used = MetricFamilyOf("tunefleet_job_restarts_used", "Restarts the job has spent of max_restarts", MetricType::Gauge);
  auto since = MetricFamilyOf("tunefleet_job_seconds_since_checkpoint",
                      "Seconds since the newest committed checkpoint seen by this coordinator", MetricType::Gauge);
  auto save = MetricFamilyOf("tunefleet_job_checkpoint_save_seconds", "Duration of the newest checkpoint save",
                     MetricType::Gauge);
  // Multi-task jobs: a task label, at most 16 tasks a job (coordinator/metrics/task_progress.h).
  auto task_train = MetricFamilyOf("tunefleet_job_task_train_loss",
                                   "Newest training loss of a task of a multi-task job (unweighted, rank 0)",
                                   MetricType::Gauge);
  auto task_eval = MetricFamilyOf("tunefleet_job_task_eval_loss",
                                  "Newest validation loss of a task of a multi-task job (rank 0)", MetricType::Gauge);
  auto task_tokens = MetricFamilyOf("tunefleet_job_task_tokens_total",
                                    "Tokens a multi-task job has trained on, by task (all ranks)", MetricType::Counter);
  auto task_examples = MetricFamilyOf("tunefleet_job_task_examples_total",
                                      "Examples a multi-task job has trained on, by task (all ranks)",
                                      MetricType::Counter);
  auto task_mix = MetricFamilyOf("tunefleet_job_task_mix_probability",
                                 "Probability each slot of a global batch draws the task (newest evaluation's)",
                                 MetricType::Gauge);
  for (const auto& job : stats.running_jobs) {
    for (const v1::TaskProgress& task : job.tasks) {
      const Labels labels = {{"job", job.job}, {"task", task.name()}};
      AddSample(task_train, labels, task.train_loss());
      AddSample(task_eval, labels, task.eval_loss());
      AddSample(task_tokens, labels, static_cast<double>(task.tokens()));
      AddSample(task_examples, labels, static_cast<double>(task.examples()));
      AddSample(task_mix, labels, task.mix_probability());
    }
  }
  // A running job's newest step by phase: four series a job.
  auto step_seconds = MetricFamilyOf("tunefleet_job_step_seconds",
                                     "Newest step's wall time by phase: compute, comm (blocked on collectives), data, "
                                     "other; they add up to the step (rank 0)",
                                     MetricType::Gauge);
  auto overlap = MetricFamilyOf("tunefleet_job_step_comm_overlap_ratio",
                                "Fraction of the newest step's gradient communication launched during backward "
                                "(rank 0, data-parallel jobs)",
                                MetricType::Gauge);
  for (const auto& job : stats.running_jobs) {
    for (const auto& [phase, seconds] : job.step_time.seconds) {
      AddSample(step_seconds, {{"job", job.job}, {"phase", phase}}, seconds);
    }
    if (job.step_time.comm_overlap) AddSample(overlap, {{"job", job.job}}, *job.step_time.comm_overlap);
  }
  for (const auto& job : stats.running_jobs) {
    const Labels labels = {{"job", job.job}};
    AddSample(step, labels, job.step);
    AddSample(total, labels, job.total_steps);
    AddSample(train, labels, job.train_loss);
    AddSample(eval, labels, job.eval_loss);
    AddSample(tps, labels, job.tokens_per_second);
    AddSample(used, labels, job.restarts_used);
    if (job.seconds_since_checkpoint >= 0) AddSample(since, labels, job.seconds_since_checkpoint);
    if (job.checkpoint_save_seconds >= 0) AddSample(save, labels, job.checkpoint_save_seconds);
  }
  for (auto* family : {&jobs, &queue, &workers, &age, &missed, &started, &ended, &restarts, &forgotten, &dropped, &history,
                       &step, &total, &train, &eval, &tps, &used, &since, &save, &task_train, &task_eval,
                       &task_tokens, &task_examples, &task_mix, &step_seconds, &overlap}) {
    families.push_back(std::move(*family));
  }
  return families;
}

}  // namespace tunefleet::coordinator
