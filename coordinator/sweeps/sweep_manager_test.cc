// Sweeps over the real control plane and SQLite store: a sweep and its jobs
// are saved together or not at all, read back after a restart, run at most
// max_concurrent at once, count against the owner's quota, and cancel whole.

#include "coordinator/sweeps/sweep_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/store/sqlite_store.h"
#include "coordinator/store/testing/faulty_store.h"
#include "coordinator/sweeps/sweep_table.h"
#include "tests/testing/child_process.h"

namespace tunefleet::coordinator::sweeps {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SweepManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tunefleet::testing::FreshTestDirectory() + "/state.db";
    Open();
  }
  // A coordinator (re)start on the same database.
  void Open() {
    sweeps_.reset();
    plane_.reset();
    auto sqlite = store::OpenSqliteStore(path_);
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    ControlPlaneOptions options;
    options.clock = [this] { return now_; };
    options.max_active_jobs_per_user = quota_;
    auto plane = ControlPlane::Create(std::make_unique<store::testing::FaultyStore>(std::move(*sqlite), &fail_),
                                      options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    auto sweeps = SweepManager::Create(*plane_, [this] { return now_; });
    ASSERT_TRUE(sweeps.ok()) << sweeps.status();
    sweeps_ = std::move(*sweeps);
  }
  void Register(const std::string& id, int slots) {
    v1::RegisterWorkerRequest request;
    request.set_worker_id(id);
    request.mutable_resources()->set_cpu_slots(slots);
    auto response = plane_->RegisterWorker(request);
    ASSERT_TRUE(response.ok()) << response.status();
  }
  // A 2 x 2 grid over a LoRA job.
  static v1::CreateSweepRequest Request(const std::string& request_id = "", int32_t max_concurrent = 0) {
    v1::CreateSweepRequest request;
    request.set_request_id(request_id);
    request.set_max_concurrent(max_concurrent);
    request.mutable_base()->mutable_model()->set_path("/m");
    request.mutable_base()->mutable_dataset()->set_path("/d.jsonl");
    request.mutable_base()->mutable_method()->set_type(v1::FINE_TUNE_METHOD_LORA);
    v1::SweepAxis* rank = request.add_axes();
    rank->set_path("method.lora.rank");
    rank->add_values("4");
    rank->add_values("8");
    v1::SweepAxis* lr = request.add_axes();
    lr->set_path("hyperparameters.learning_rate");
    lr->add_values("1e-4");
    lr->add_values("3e-4");
    return request;
  }
  std::vector<std::string> JobNames() {
    v1::ListJobsRequest request;
    request.set_page_size(1000);
    std::vector<std::string> names;
    const absl::StatusOr<v1::ListJobsResponse> listed = plane_->ListJobs(request);  // kept: the loop reads into it
    EXPECT_TRUE(listed.ok()) << listed.status();
    if (!listed.ok()) return names;
    for (const v1::Job& job : listed->jobs()) names.push_back(job.name());
    return names;
  }
  std::map<v1::JobState, int> StateCounts(const v1::Sweep& sweep) {
    std::map<v1::JobState, int> counts;
    for (const v1::SweepPoint& point : sweep.points()) ++counts[plane_->GetJob(point.job())->state()];
    return counts;
  }

  std::string path_;
  bool fail_ = false;
  int64_t quota_ = 1000;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<SweepManager> sweeps_;
};

TEST_F(SweepManagerTest, ASweepIsItsJobsOnePerPointInGridOrder) {
  auto sweep = sweeps_->CreateSweep(Request(), "alice");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_THAT(sweep->name(), HasSubstr("sweeps/sweep-"));
  EXPECT_EQ(sweep->state(), v1::SWEEP_STATE_RUNNING);
  EXPECT_EQ(sweep->owner(), "alice");
  ASSERT_EQ(sweep->points_size(), 4);
  const std::string id = sweep->name().substr(7);
  std::vector<std::string> jobs;
  for (const v1::SweepPoint& point : sweep->points()) jobs.push_back(point.job());
  EXPECT_THAT(jobs, ElementsAre("jobs/" + id + "-0", "jobs/" + id + "-1", "jobs/" + id + "-2", "jobs/" + id + "-3"));
  EXPECT_THAT(sweep->points(3).values(), ElementsAre("8", "3e-4"));
  const v1::Job last = *plane_->GetJob(jobs[3]);
  EXPECT_EQ(last.sweep(), sweep->name());
  EXPECT_EQ(last.owner(), "alice");
  EXPECT_EQ(last.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(last.spec().method().lora().rank(), 8);
  EXPECT_DOUBLE_EQ(last.spec().hyperparameters().learning_rate(), 3e-4);
}

TEST_F(SweepManagerTest, ABadGridIsRefusedNamingTheAxisAndNothingIsSaved) {
  v1::CreateSweepRequest request = Request();
  request.mutable_axes(1)->set_values(1, "fast");
  auto refused = sweeps_->CreateSweep(request, "alice");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("hyperparameters.learning_rate"));
  request = Request();
  request.set_sweep_id("Not_Valid");
  EXPECT_THAT(sweeps_->CreateSweep(request, "alice").status().message(), HasSubstr("sweep_id"));
  EXPECT_TRUE(JobNames().empty());
  EXPECT_EQ(sweeps_->ListSweeps({})->sweeps_size(), 0);
}

TEST_F(SweepManagerTest, ASweepAndItsJobsAreReadBackAfterARestart) {
  auto created = sweeps_->CreateSweep(Request("req-1", 2), "alice");
  ASSERT_TRUE(created.ok()) << created.status();
  Open();
  auto loaded = sweeps_->GetSweep(created->name());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->SerializeAsString(), created->SerializeAsString());
  EXPECT_EQ(JobNames().size(), 4u);
  // The request id survives too: a client's retry after the restart gets the same sweep.
  auto retried = sweeps_->CreateSweep(Request("req-1", 2), "alice");
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->name(), created->name());
  EXPECT_EQ(JobNames().size(), 4u);
}

TEST_F(SweepManagerTest, AFailedWriteSavesNeitherTheSweepNorAnyJobAndTheRetryIsAcceptedOnce) {
  fail_ = true;
  auto refused = sweeps_->CreateSweep(Request("req-1"), "alice");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(JobNames().empty());
  EXPECT_EQ(sweeps_->ListSweeps({})->sweeps_size(), 0);
  fail_ = false;
  Open();
  EXPECT_TRUE(JobNames().empty());
  EXPECT_EQ(sweeps_->ListSweeps({})->sweeps_size(), 0);
  auto accepted = sweeps_->CreateSweep(Request("req-1"), "alice");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  auto again = sweeps_->CreateSweep(Request("req-1"), "alice");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->name(), accepted->name());
  EXPECT_EQ(JobNames().size(), 4u);
  EXPECT_EQ(sweeps_->ListSweeps({})->sweeps_size(), 1);
}

TEST_F(SweepManagerTest, EveryPointCountsAgainstTheOwnersQuota) {
  quota_ = 3;
  Open();
  auto refused = sweeps_->CreateSweep(Request(), "alice");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("asks for 4 more"));
  EXPECT_TRUE(JobNames().empty());
  quota_ = 4;
  Open();
  EXPECT_TRUE(sweeps_->CreateSweep(Request(), "alice").ok());
}

TEST_F(SweepManagerTest, AtMostMaxConcurrentRunAndTheNextStartsWhenOneEnds) {
  Register("w", 4);
  auto sweep = sweeps_->CreateSweep(Request("", 1), "alice");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  plane_->Tick();
  EXPECT_EQ(StateCounts(*sweep)[v1::JOB_STATE_RUNNING], 1) << "4 slots free, one member at a time";
  EXPECT_EQ(plane_->GetJob(sweep->points(0).job())->state(), v1::JOB_STATE_RUNNING) << "grid order";
  Open();  // the limit is the sweep's: it holds after a restart
  plane_->Tick();
  EXPECT_EQ(StateCounts(*sweep)[v1::JOB_STATE_RUNNING], 1);
  ASSERT_TRUE(plane_->CancelJob(sweep->points(0).job()).ok());
  plane_->Tick();
  EXPECT_EQ(plane_->GetJob(sweep->points(1).job())->state(), v1::JOB_STATE_RUNNING) << "released as one ended";
  EXPECT_EQ(StateCounts(*sweep)[v1::JOB_STATE_RUNNING], 1);
}

TEST_F(SweepManagerTest, CancelEndsEveryMemberAndTheWaitingOnesNeverStart) {
  Register("w", 4);
  auto sweep = sweeps_->CreateSweep(Request("", 1), "alice");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  plane_->Tick();
  auto cancelled = sweeps_->CancelSweep(sweep->name());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_TRUE(cancelled->cancel_requested());
  EXPECT_EQ(cancelled->state(), v1::SWEEP_STATE_CANCELLED);
  plane_->Tick();
  EXPECT_EQ(StateCounts(*sweep)[v1::JOB_STATE_CANCELLED], 4);
  for (int p = 1; p < 4; ++p) {
    EXPECT_FALSE(plane_->GetJob(sweep->points(p).job())->has_start_time()) << "point " << p << " never started";
  }
  Open();
  EXPECT_TRUE(sweeps_->GetSweep(sweep->name())->cancel_requested());
  EXPECT_EQ(sweeps_->GetSweep(sweep->name())->state(), v1::SWEEP_STATE_CANCELLED);
  EXPECT_TRUE(sweeps_->CancelSweep(sweep->name()).ok()) << "cancelling again is a no-op";
}

TEST_F(SweepManagerTest, ACancelThatCannotBeSavedChangesNothing) {
  auto sweep = sweeps_->CreateSweep(Request(), "alice");
  ASSERT_TRUE(sweep.ok());
  fail_ = true;
  EXPECT_EQ(sweeps_->CancelSweep(sweep->name()).status().code(), absl::StatusCode::kUnavailable);
  fail_ = false;
  EXPECT_FALSE(sweeps_->GetSweep(sweep->name())->cancel_requested());
  EXPECT_EQ(StateCounts(*sweep)[v1::JOB_STATE_QUEUED], 4);
}

TEST_F(SweepManagerTest, UnknownSweepsAreNotFound) {
  EXPECT_EQ(sweeps_->GetSweep("sweeps/none").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sweeps_->CancelSweep("sweeps/none").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sweeps_->OwnerOf("sweeps/none").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SweepManagerTest, ListIsNewestFirstInPagesWithoutPoints) {
  for (const char* id : {"one", "two", "three"}) {
    v1::CreateSweepRequest request = Request();
    request.set_sweep_id(id);
    ASSERT_TRUE(sweeps_->CreateSweep(request, "alice").ok());
  }
  v1::ListSweepsRequest request;
  request.set_page_size(2);
  auto first = sweeps_->ListSweeps(request);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->sweeps_size(), 2);
  EXPECT_EQ(first->sweeps(0).name(), "sweeps/three");
  EXPECT_EQ(first->sweeps(0).points_size(), 0);
  EXPECT_EQ(first->sweeps(0).point_count(), 4);
  request.set_page_token(first->next_page_token());
  auto second = sweeps_->ListSweeps(request);
  ASSERT_EQ(second->sweeps_size(), 1);
  EXPECT_EQ(second->sweeps(0).name(), "sweeps/one");
  EXPECT_TRUE(second->next_page_token().empty());
  v1::CreateSweepRequest taken = Request();
  taken.set_sweep_id("one");
  EXPECT_EQ(sweeps_->CreateSweep(taken, "alice").status().code(), absl::StatusCode::kAlreadyExists);
}

// The table's rules, on points as GetSweep fills them.
v1::SweepPoint Point(const std::string& job, v1::JobState state, double eval_loss, double train_loss = 1.0) {
  v1::Job member;
  member.set_state(state);
  member.mutable_progress()->set_step(10);
  member.mutable_progress()->set_eval_loss(eval_loss);
  member.mutable_progress()->set_train_loss(train_loss);
  v1::SweepPoint point;
  point.set_job(job);
  FillPoint(member, point);
  return point;
}

TEST(SweepTable, TheBestPointIsTheLowestObjectiveAmongThoseThatSucceeded) {
  v1::Sweep sweep;
  *sweep.add_points() = Point("jobs/a", v1::JOB_STATE_SUCCEEDED, 1.5, 0.9);
  *sweep.add_points() = Point("jobs/b", v1::JOB_STATE_SUCCEEDED, 1.2, 1.4);
  *sweep.add_points() = Point("jobs/c", v1::JOB_STATE_FAILED, 0.1, 0.1);  // failed: not a candidate
  *sweep.add_points() = Point("jobs/d", v1::JOB_STATE_SUCCEEDED, 0, 0.5);  // no eval loss reported
  Summarize(sweep);
  EXPECT_EQ(sweep.best_job(), "jobs/b");
  EXPECT_EQ(sweep.state(), v1::SWEEP_STATE_FAILED);
  sweep.set_objective(v1::SWEEP_OBJECTIVE_MIN_TRAIN_LOSS);
  Summarize(sweep);
  EXPECT_EQ(sweep.best_job(), "jobs/d");
}

// A member's after-training evaluation gives its score (exact match over
// all tasks); the eval_score objective picks the highest.
TEST(SweepTable, TheEvalScoreComesFromTheMembersEvaluation) {
  v1::Job job;
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  v1::SweepPoint none;
  FillPoint(job, none);
  EXPECT_FALSE(none.has_eval_score());
  v1::JobEvaluation::Row* row = job.mutable_evaluation()->add_rows();
  row->set_task("all");
  row->set_metric("exact match");
  row->set_candidate(0.8);
  v1::Sweep sweep;
  sweep.set_objective(v1::SWEEP_OBJECTIVE_MAX_EVAL_SCORE);
  FillPoint(job, *sweep.add_points());
  EXPECT_TRUE(sweep.points(0).has_eval_score());
  EXPECT_EQ(sweep.points(0).eval_score(), 0.8);
  sweep.mutable_points(0)->set_job("jobs/a");
  row->set_candidate(0.9);
  FillPoint(job, *sweep.add_points());
  sweep.mutable_points(1)->set_job("jobs/b");
  FillPoint(v1::Job(), *sweep.add_points());  // no score: not a candidate
  sweep.mutable_points(2)->set_job("jobs/c");
  Summarize(sweep);
  EXPECT_EQ(sweep.best_job(), "jobs/b");
}

TEST(SweepTable, StateFollowsTheMembers) {
  v1::Sweep sweep;
  *sweep.add_points() = Point("jobs/a", v1::JOB_STATE_SUCCEEDED, 1.0);
  *sweep.add_points() = Point("jobs/b", v1::JOB_STATE_RUNNING, 0);
  Summarize(sweep);
  EXPECT_EQ(sweep.state(), v1::SWEEP_STATE_RUNNING);
  EXPECT_EQ(sweep.best_job(), "jobs/a") << "the best so far";
  *sweep.mutable_points(1) = Point("jobs/b", v1::JOB_STATE_SUCCEEDED, 1.0);
  Summarize(sweep);
  EXPECT_EQ(sweep.state(), v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_EQ(sweep.best_job(), "jobs/a") << "a tie goes to the first in grid order";
  sweep.set_cancel_requested(true);
  Summarize(sweep);
  EXPECT_EQ(sweep.state(), v1::SWEEP_STATE_CANCELLED);
}

}  // namespace
}  // namespace tunefleet::coordinator::sweeps
