// The control plane's bounds against any caller, in process with a fake
// clock: a metric sample past its size limits is refused naming the limit, a
// rank past its sample rate loses samples (counted) and not its job, and a
// user past the quota of active jobs is refused at submit.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metric_sample_limits.h"
#include "coordinator/core/control_plane.h"
#include "coordinator/store/sqlite_store.h"
#include "tests/testing/child_process.h"

namespace tunefleet::coordinator {
namespace {

using ::testing::HasSubstr;

class ControlPlaneLimitsTest : public ::testing::Test {
 protected:
  void Open(ControlPlaneOptions options) {
    auto store = store::OpenSqliteStore(tunefleet::testing::FreshTestDirectory() + "/state.db");
    ASSERT_TRUE(store.ok()) << store.status();
    options.clock = [this] { return now_; };
    auto plane = ControlPlane::Create(std::move(*store), options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
  }
  absl::StatusOr<v1::Job> Submit(const std::string& owner) {
    v1::CreateJobRequest request;
    request.mutable_spec()->mutable_model()->set_path("/m");
    request.mutable_spec()->mutable_dataset()->set_path("/d.jsonl");
    request.mutable_spec()->mutable_resources()->set_world_size(1);
    return plane_->CreateJob(request, owner);
  }
  // A job running on worker "w", with the worker's session.
  v1::Job Running() {
    v1::RegisterWorkerRequest request;
    request.set_worker_id("w");
    request.mutable_resources()->set_cpu_slots(1);
    auto registered = plane_->RegisterWorker(request);
    EXPECT_TRUE(registered.ok()) << registered.status();
    session_ = registered->session();
    auto job = Submit("alice");
    EXPECT_TRUE(job.ok()) << job.status();
    plane_->Tick();
    return *plane_->GetJob(job->name());
  }
  v1::ReportMetricsRequest Report(const v1::Job& job, int64_t first_step, int count) {
    v1::ReportMetricsRequest report;
    report.set_worker_id("w");
    report.set_session(session_);
    report.set_generation(job.generation());
    for (int i = 0; i < count; ++i) {
      v1::MetricSample* sample = report.add_samples();
      sample->set_job(job.name());
      sample->set_step(first_step + i);
      sample->set_event("step");
      (*sample->mutable_values())["train_loss"] = 1;
    }
    return report;
  }
  int64_t Kept(const v1::Job& job) {
    int64_t cursor = 0;
    bool finished = false;
    auto samples = plane_->MetricsAfter(job.name(), &cursor, -1, &finished);
    EXPECT_TRUE(samples.ok()) << samples.status();
    return static_cast<int64_t>(samples->size());
  }

  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::unique_ptr<ControlPlane> plane_;
  std::string session_;
};

TEST_F(ControlPlaneLimitsTest, ASamplePastItsSizeLimitRefusesTheReportNamingTheLimitAndStoresNothing) {
  Open({});
  const v1::Job job = Running();
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  v1::ReportMetricsRequest report = Report(job, 1, 3);
  (*report.mutable_samples(2)->mutable_text())["junk"] = std::string(1 << 20, 'x');  // the earlier flood's 1 MB
  const absl::Status status = plane_->ReportMetrics(report);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("kMaxSampleBytes"));
  EXPECT_EQ(Kept(job), 0);
  EXPECT_EQ(plane_->GetJob(job.name())->progress().step(), 0);
}

TEST_F(ControlPlaneLimitsTest, SamplesPastARanksRateAreDroppedAndCountedNotRefused) {
  ControlPlaneOptions options;
  options.metrics_rate_per_rank = 10;
  options.metrics_burst_per_rank = 20;
  Open(options);
  const v1::Job job = Running();
  v1::ReportMetricsRequest report = Report(job, 1, 100);
  report.mutable_samples(99)->set_event("checkpoint");  // acted on: never dropped
  (*report.mutable_samples(99)->mutable_values())["committed"] = 1;
  ASSERT_TRUE(plane_->ReportMetrics(report).ok());
  EXPECT_EQ(Kept(job), 21);
  EXPECT_EQ(plane_->Stats().metric_samples_dropped_total, 79);
  EXPECT_EQ(plane_->GetJob(job.name())->progress().last_checkpoint_step(), 100);
  EXPECT_EQ(plane_->GetJob(job.name())->state(), v1::JOB_STATE_RUNNING);
  now_ += absl::Seconds(1);  // ten more tokens
  ASSERT_TRUE(plane_->ReportMetrics(Report(job, 101, 50)).ok());
  EXPECT_EQ(Kept(job), 31);
  EXPECT_EQ(plane_->Stats().metric_samples_dropped_total, 119);
}

TEST_F(ControlPlaneLimitsTest, MetricHistoryMemoryStaysUnderItsGlobalBudget) {
  ControlPlaneOptions options;
  options.metrics_rate_per_rank = 0;
  options.metrics_history_bytes = 1 << 20;
  Open(options);
  const v1::Job job = Running();
  for (int round = 0; round < 40; ++round) {
    v1::ReportMetricsRequest report = Report(job, round * 100 + 1, 100);
    for (auto& sample : *report.mutable_samples()) {
      (*sample.mutable_text())["pad"] = std::string(metric_sample_limits::kMaxTextBytes, 'p');
    }
    ASSERT_TRUE(plane_->ReportMetrics(report).ok());
  }  // 4,000 samples of 8 KiB: 32 MiB offered
  EXPECT_LE(plane_->Stats().metric_history_bytes, 1 << 20);
  EXPECT_GT(Kept(job), 10);
}

TEST_F(ControlPlaneLimitsTest, SubmissionsPastTheUsersQuotaAreRefusedNamingItAndAnEndedJobFreesASlot) {
  ControlPlaneOptions options;
  options.max_active_jobs_per_user = 3;
  Open(options);
  std::vector<v1::Job> mine;
  for (int i = 0; i < 3; ++i) {
    auto job = Submit("alice");
    ASSERT_TRUE(job.ok()) << job.status();
    mine.push_back(*job);
  }
  auto refused = Submit("alice");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("--max-active-jobs-per-user"));
  EXPECT_THAT(refused.status().message(), HasSubstr("alice has 3 jobs"));
  EXPECT_TRUE(Submit("bob").ok()) << "another user is not charged";
  ASSERT_TRUE(plane_->CancelJob(mine[0].name()).ok());
  EXPECT_TRUE(Submit("alice").ok());
  EXPECT_EQ(Submit("alice").status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tunefleet::coordinator
