// The control plane's rules, in process, with a fake clock: placement through
// heartbeats, completion, lost workers, fencing of old attempts, slots held
// until ranks are confirmed dead, and state that survives a restart.

#include "common/metric_keys.h"
#include "common/proto_time.h"
#include "coordinator/core/control_plane.h"
#include "coordinator/store/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <thread>
#include <vector>

#include "tests/testing/child_process.h"

namespace tunefleet::coordinator {
namespace {

using ::testing::HasSubstr;

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tunefleet::testing::FreshTestDirectory() + "/state.db";
    Open();
  }
  void Open() {
    plane_.reset();
    auto store = store::OpenSqliteStore(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    ControlPlaneOptions options;
    options.worker_timeout = absl::Seconds(15);
    options.backoff = {absl::Seconds(2), absl::Seconds(60)};
    options.clock = [this] { return now_; };
    options.allowed_path_roots = allowed_path_roots_;
    options.list_page_bytes = list_page_bytes_;
    auto plane = ControlPlane::Create(std::move(*store), options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
  }
  std::string Register(const std::string& id, int slots) {
    v1::RegisterWorkerRequest request;
    request.set_worker_id(id);
    request.mutable_resources()->set_cpu_slots(slots);
    auto response = plane_->RegisterWorker(request);
    EXPECT_TRUE(response.ok()) << response.status();
    sessions_[id] = response->session();
    return response->session();
  }
  v1::HeartbeatResponse Beat(const std::string& id, std::vector<v1::RankStatus> ranks = {}) {
    v1::HeartbeatRequest request;
    request.set_worker_id(id);
    request.set_session(sessions_[id]);
    for (auto& r : ranks) *request.add_ranks() = r;
    auto response = plane_->Heartbeat(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return *response;
  }
  static v1::RankStatus Rank(const v1::Job& job, int32_t rank, v1::RankPhase phase, int32_t exit_code = 0) {
    v1::RankStatus status;
    status.set_job(job.name());
    status.set_generation(job.generation());
    status.set_rank(rank);
    status.set_phase(phase);
    status.set_exit_code(exit_code);
    return status;
  }
  v1::Job Submit(int world_size, int max_restarts = 3) {
    v1::CreateJobRequest request;
    request.mutable_spec()->mutable_model()->set_path("/m");
    request.mutable_spec()->mutable_dataset()->set_path("/d.jsonl");
    request.mutable_spec()->mutable_resources()->set_world_size(world_size);
    request.mutable_spec()->mutable_restart()->set_max_restarts(max_restarts);
    auto job = plane_->CreateJob(request);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }
  v1::Job Get(const std::string& name) { return *plane_->GetJob(name); }
  // One sample of rank 0 of `job`'s attempt, reported by worker "w".
  absl::Status ReportSample(const v1::Job& job, const std::string& event, int64_t step,
                            const std::map<std::string, double>& values,
                            const std::map<std::string, std::string>& text) {
    v1::ReportMetricsRequest request;
    request.set_worker_id("w");
    request.set_session(sessions_["w"]);
    request.set_generation(job.generation());
    v1::MetricSample* sample = request.add_samples();
    sample->set_job(job.name());
    sample->set_event(event);
    sample->set_step(step);
    for (const auto& [k, v] : values) (*sample->mutable_values())[k] = v;
    for (const auto& [k, v] : text) (*sample->mutable_text())[k] = v;
    return plane_->ReportMetrics(request);
  }

  std::string path_;
  std::vector<std::string> allowed_path_roots_;
  size_t list_page_bytes_ = kMaxListPageBytes;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::unique_ptr<ControlPlane> plane_;
  std::map<std::string, std::string> sessions_;
};

// Self-fencing: each registration carries the lease, a margin short of
// --worker-timeout (coordinator/core/worker_lease.h).
TEST_F(ControlPlaneTest, RegistrationGrantsTheWorkerALeaseShorterThanTheTimeout) {
  v1::RegisterWorkerRequest request;
  request.set_worker_id("w1");
  request.mutable_resources()->set_cpu_slots(1);
  auto response = plane_->RegisterWorker(request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->has_lease());
  EXPECT_EQ(FromProtoDuration(response->lease()), absl::Milliseconds(13500));  // 15 s less 10%
}

TEST_F(ControlPlaneTest, JobIsPlacedAssignedAndSucceeds) {
  Register("w", 2);
  v1::Job job = Submit(2);
  plane_->Tick();
  job = Get(job.name());
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  ASSERT_EQ(job.placements_size(), 2);

  auto reply = Beat("w");
  ASSERT_EQ(reply.start_size(), 1);
  EXPECT_EQ(reply.start(0).generation(), job.generation());
  EXPECT_THAT(reply.start(0).ranks(), ::testing::ElementsAre(0, 1));
  // Reported ranks are not sent again.
  reply = Beat("w", {Rank(job, 0, v1::RANK_PHASE_RUNNING), Rank(job, 1, v1::RANK_PHASE_RUNNING)});
  EXPECT_EQ(reply.start_size(), 0);
  Beat("w", {Rank(job, 0, v1::RANK_PHASE_SUCCEEDED), Rank(job, 1, v1::RANK_PHASE_RUNNING)});
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_RUNNING);
  reply = Beat("w", {Rank(job, 0, v1::RANK_PHASE_SUCCEEDED), Rank(job, 1, v1::RANK_PHASE_SUCCEEDED)});
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_SUCCEEDED);
  // The next heartbeat lets the worker forget the finished ranks.
  reply = Beat("w", {Rank(job, 0, v1::RANK_PHASE_SUCCEEDED), Rank(job, 1, v1::RANK_PHASE_SUCCEEDED)});
  ASSERT_EQ(reply.stop_size(), 1);
  EXPECT_EQ(reply.stop(0).generation(), job.generation());
}

TEST_F(ControlPlaneTest, ListPagesStopAtTheirByteBudgetAndTogetherListEveryJobOnce) {
  // A budget of about three jobs: pages end by bytes long before page_size.
  std::vector<std::string> submitted;
  for (int i = 0; i < 10; ++i) submitted.push_back(Submit(1).name());
  list_page_bytes_ = 3 * Get(submitted[0]).ByteSizeLong() + 10;
  Open();
  std::vector<std::string> listed;
  v1::ListJobsRequest request;
  request.set_page_size(1000);
  int pages = 0;
  do {
    auto page = plane_->ListJobs(request);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_GE(page->jobs_size(), 1);
    size_t bytes = 0;
    for (const v1::Job& job : page->jobs()) {
      listed.push_back(job.name());
      bytes += job.ByteSizeLong();
    }
    EXPECT_LE(bytes, list_page_bytes_);
    request.set_page_token(page->next_page_token());
    ASSERT_LT(++pages, 20);
  } while (!request.page_token().empty());
  EXPECT_GE(pages, 4);
  EXPECT_EQ(listed, submitted);

  // One job larger than the whole budget is still listed, alone on its page.
  list_page_bytes_ = 1;
  Open();
  request.set_page_token("");
  auto page = plane_->ListJobs(request);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->jobs_size(), 1);
  EXPECT_FALSE(page->next_page_token().empty());
}

TEST_F(ControlPlaneTest, AGangIsNotHungWhileRankZeroAdvancesAndIsOnceNoRankDoes) {
  // Only rank 0 writes step metrics, so rank 1 reports step 0 all along.
  Register("w", 2);
  v1::Job job = Submit(2);
  plane_->Tick();
  job = Get(job.name());
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  const auto at_step = [&](int32_t rank, int64_t step) {
    v1::RankStatus status = Rank(job, rank, v1::RANK_PHASE_RUNNING);
    status.set_step(step);
    return status;
  };
  // 30 minutes of 30 s steps, far past the 10-minute start-up allowance.
  for (int64_t step = 1; step <= 60; ++step) {
    now_ += absl::Seconds(30);
    Beat("w", {at_step(0, step), at_step(1, 0)});
    plane_->Tick();
  }
  job = Get(job.name());
  EXPECT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(job.attempt(), 1);
  // Then rank 0 stalls too: past the floor (2 min, above 10 x 30 s = 5 min), the gang is hung.
  now_ += absl::Minutes(6);
  Beat("w", {at_step(0, 60), at_step(1, 0)});
  plane_->Tick();
  job = Get(job.name());
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(job.restarts_used(), 1);
}

TEST_F(ControlPlaneTest, PathsOutsideTheAllowedRootsAreRefusedNamingTheField) {
  allowed_path_roots_ = {"/shared"};
  Open();
  v1::CreateJobRequest request;
  request.mutable_spec()->mutable_model()->set_path("/shared/models/base");
  request.mutable_spec()->mutable_dataset()->set_path("/home/alice/../../etc/shadow");
  auto refused = plane_->CreateJob(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("dataset.path"), absl::string_view::npos) << refused.status();

  request.mutable_spec()->mutable_dataset()->set_path("/shared/data/train.jsonl");
  EXPECT_TRUE(plane_->CreateJob(request).ok());
  EXPECT_EQ(plane_->ListJobs({}).value().jobs_size(), 1);  // the refused one left nothing behind
}

TEST_F(ControlPlaneTest, LostWorkerRequeuesWithBackoffWithoutSpendingRestartsAndFencesTheOldAttempt) {
  Register("a", 1);
  v1::Job job = Submit(1, /*max_restarts=*/0);
  plane_->Tick();
  job = Get(job.name());
  Beat("a", {Rank(job, 0, v1::RANK_PHASE_RUNNING)});

  now_ += absl::Seconds(16);
  Register("b", 1);
  plane_->Tick();
  v1::Job requeued = Get(job.name());
  EXPECT_EQ(requeued.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(requeued.attempt(), 2);
  EXPECT_EQ(requeued.restarts_used(), 0);
  EXPECT_EQ((*plane_->GetWorker("workers/a")).state(), v1::WORKER_STATE_LOST);

  plane_->Tick();  // still backing off
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_QUEUED);
  now_ += absl::Seconds(2);
  plane_->Tick();
  v1::Job placed = Get(job.name());
  ASSERT_EQ(placed.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(placed.placements(0).worker(), "workers/b");
  EXPECT_GT(placed.generation(), job.generation());

  // The lost worker comes back still running the old attempt: it is told to
  // register, then to stop the old generation, and never gets the new one.
  v1::HeartbeatRequest stale;
  stale.set_worker_id("a");
  stale.set_session(sessions_["a"]);
  EXPECT_TRUE(plane_->Heartbeat(stale)->reregister());
  Register("a", 1);
  auto reply = Beat("a", {Rank(job, 0, v1::RANK_PHASE_RUNNING)});
  ASSERT_EQ(reply.stop_size(), 1);
  EXPECT_EQ(reply.stop(0).generation(), job.generation());
  EXPECT_EQ(reply.start_size(), 0);
}

TEST_F(ControlPlaneTest, MissedHeartbeatsCountEachIntervalPastOneAndAHalfUntilLost) {
  // Interval 3 s: a miss is counted at 4.5 s of silence, 7.5 s, 10.5 s, ...
  Register("a", 1);
  auto missed = [&] { return plane_->Stats().heartbeats_missed_total.at("a"); };
  EXPECT_EQ(missed(), 0);
  now_ += absl::Seconds(4);  // late, within the half-interval allowance
  plane_->Tick();
  Beat("a");
  EXPECT_EQ(missed(), 0);
  now_ += absl::Seconds(5);  // one interval missed
  plane_->Tick();
  EXPECT_EQ(missed(), 1);
  now_ += absl::Seconds(3);  // 8 s silent: a second, counted once however often Tick runs
  plane_->Tick();
  plane_->Tick();
  EXPECT_EQ(missed(), 2);
  now_ += absl::Seconds(3);  // 11 s: the third is counted by the heartbeat itself, before a Tick sees it
  Beat("a");
  EXPECT_EQ(missed(), 3);
  plane_->Tick();
  EXPECT_EQ(missed(), 3);
  now_ += absl::Seconds(16);  // LOST (timeout 15 s): counting stops with it
  plane_->Tick();
  const int64_t at_lost = missed();
  EXPECT_EQ(at_lost, 3 + 4);  // 4.5, 7.5, 10.5, 13.5 s
  now_ += absl::Seconds(60);
  plane_->Tick();
  Register("a", 1);
  EXPECT_EQ(missed(), at_lost);
}

TEST_F(ControlPlaneTest, StoppedRanksHoldTheirSlotsUntilConfirmedDead) {
  Register("w", 1);
  v1::Job first = Submit(1);
  plane_->Tick();
  first = Get(first.name());
  Beat("w", {Rank(first, 0, v1::RANK_PHASE_RUNNING)});
  ASSERT_TRUE(plane_->CancelJob(first.name()).ok());
  v1::Job second = Submit(1);
  plane_->Tick();
  EXPECT_EQ(Get(second.name()).state(), v1::JOB_STATE_QUEUED);  // the slot is not free yet

  auto reply = Beat("w", {Rank(first, 0, v1::RANK_PHASE_RUNNING)});  // still dying
  ASSERT_EQ(reply.stop_size(), 1);
  plane_->Tick();
  EXPECT_EQ(Get(second.name()).state(), v1::JOB_STATE_QUEUED);

  Beat("w", {Rank(first, 0, v1::RANK_PHASE_STOPPED)});  // confirmed dead
  plane_->Tick();
  EXPECT_EQ(Get(second.name()).state(), v1::JOB_STATE_RUNNING);
}

TEST_F(ControlPlaneTest, TrainerFailureStopsTheWholeGangAndCounts) {
  Register("a", 1);
  Register("b", 1);
  v1::Job job = Submit(2, /*max_restarts=*/0);
  plane_->Tick();
  job = Get(job.name());
  Beat("a", {Rank(job, 0, v1::RANK_PHASE_RUNNING)});
  Beat("b", {Rank(job, 1, v1::RANK_PHASE_RUNNING)});
  Beat("a", {Rank(job, 0, v1::RANK_PHASE_FAILED, 7)});
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_RUNNING);  // until b is heard from: was it b's death?
  auto reply = Beat("b", {Rank(job, 1, v1::RANK_PHASE_RUNNING)});
  ASSERT_EQ(reply.stop_size(), 1);  // the surviving rank is stopped too
  v1::Job failed = Get(job.name());
  EXPECT_EQ(failed.state(), v1::JOB_STATE_FAILED);
  EXPECT_THAT(failed.failure_reason(), HasSubstr("exited with code 7"));
}

// kill -9 of b: a's rank fails at once in its collective (peer reset), but
// b's silence explains it: WORKER_LOST at the timeout, no restart spent.
TEST_F(ControlPlaneTest, RankFailureExplainedByALostPeerWorkerIsNotCounted) {
  Register("a", 1);
  Register("b", 1);
  Register("c", 1);
  v1::Job job = Submit(2, /*max_restarts=*/0);
  plane_->Tick();
  job = Get(job.name());
  ASSERT_EQ(job.placements_size(), 2);
  const std::string survivor = job.placements(0).worker().substr(8);
  const std::string victim = job.placements(1).worker().substr(8);
  Beat(survivor, {Rank(job, 0, v1::RANK_PHASE_RUNNING)});
  Beat(victim, {Rank(job, 1, v1::RANK_PHASE_RUNNING)});
  Beat(survivor, {Rank(job, 0, v1::RANK_PHASE_FAILED, 1)});
  now_ += absl::Seconds(16);  // the victim says nothing more
  for (const std::string id : {"a", "b", "c"}) {
    if (id != victim) Beat(id, id == survivor ? std::vector<v1::RankStatus>{Rank(job, 0, v1::RANK_PHASE_FAILED, 1)}
                                               : std::vector<v1::RankStatus>{});
  }
  plane_->Tick();
  v1::Job requeued = Get(job.name());
  EXPECT_EQ((*plane_->GetWorker("workers/" + victim)).state(), v1::WORKER_STATE_LOST);
  EXPECT_EQ(requeued.restarts_used(), 0);
  EXPECT_EQ(requeued.attempt(), 2);
  EXPECT_NE(requeued.state(), v1::JOB_STATE_FAILED);
}

TEST_F(ControlPlaneTest, VanishedRankEndsTheAttemptAsInfrastructure) {
  Register("w", 1);
  v1::Job job = Submit(1, /*max_restarts=*/0);
  plane_->Tick();
  job = Get(job.name());
  Beat("w", {Rank(job, 0, v1::RANK_PHASE_RUNNING)});
  Beat("w", {});  // the worker restarted and lost its trainer
  v1::Job after = Get(job.name());
  EXPECT_EQ(after.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(after.restarts_used(), 0);
}

TEST_F(ControlPlaneTest, StateSurvivesARestartOfTheControlPlane) {
  Register("w", 1);
  v1::Job running = Submit(1);
  v1::Job queued = Submit(1);
  plane_->Tick();
  running = Get(running.name());
  ASSERT_TRUE(plane_->CordonWorker("workers/w").ok());

  Open();  // a new process on the same database
  EXPECT_EQ(Get(running.name()).state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(running.name()).generation(), running.generation());
  EXPECT_EQ(Get(queued.name()).state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ((*plane_->GetWorker("workers/w")).state(), v1::WORKER_STATE_CORDONED);
  bool finished = false;
  EXPECT_EQ(plane_->EventsAfter(running.name(), 0, &finished)->size(), 2u);
  // Old sessions are unknown: the worker registers again and re-reports.
  v1::HeartbeatRequest request;
  request.set_worker_id("w");
  request.set_session(sessions_["w"]);
  EXPECT_TRUE(plane_->Heartbeat(request)->reregister());
  Register("w", 1);
  auto reply = Beat("w", {Rank(running, 0, v1::RANK_PHASE_RUNNING)});
  EXPECT_EQ(reply.start_size(), 0);
  EXPECT_EQ(reply.stop_size(), 0);
  EXPECT_EQ(Get(running.name()).state(), v1::JOB_STATE_RUNNING);
}

// The attempts and metrics tables are read back: a finished job's logs and
// metric history are found after a restart, not lost with the memory.
TEST_F(ControlPlaneTest, AFinishedJobsLogSourceAndMetricHistorySurviveARestart) {
  v1::RegisterWorkerRequest request;
  request.set_worker_id("w");
  request.mutable_resources()->set_cpu_slots(2);
  request.mutable_resources()->set_log_address("10.0.0.7:7000");
  auto registered = plane_->RegisterWorker(request);
  ASSERT_TRUE(registered.ok());
  sessions_["w"] = registered->session();
  v1::Job job = Submit(2);
  plane_->Tick();
  job = Get(job.name());
  v1::ReportMetricsRequest report;
  report.set_worker_id("w");
  report.set_session(sessions_["w"]);
  report.set_generation(job.generation());
  for (int step = 1; step <= 3; ++step) {
    v1::MetricSample* sample = report.add_samples();
    sample->set_job(job.name());
    sample->set_event("step");
    sample->set_step(step);
    (*sample->mutable_values())["train_loss"] = 2.0 - step * 0.1;
  }
  ASSERT_TRUE(plane_->ReportMetrics(report).ok());
  Beat("w", {Rank(job, 0, v1::RANK_PHASE_SUCCEEDED), Rank(job, 1, v1::RANK_PHASE_SUCCEEDED)});
  ASSERT_EQ(Get(job.name()).state(), v1::JOB_STATE_SUCCEEDED);

  Open();
  // Metric history too (WatchJobMetrics, `tunefleet plot`).
  int64_t cursor = 0;
  bool ended = false;
  auto samples = plane_->MetricsAfter(job.name(), &cursor, 0, &ended);
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 3u);
  EXPECT_EQ((*samples)[2].step(), 3);
  EXPECT_DOUBLE_EQ((*samples)[2].values().at("train_loss"), 1.7);
  EXPECT_TRUE(ended);
  auto source = plane_->FindLogSource(job.name(), 1);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->log_address, "10.0.0.7:7000");
  EXPECT_EQ(source->attempt, 1);
  bool finished = false;
  auto events = plane_->EventsAfter(job.name(), 0, &finished);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 3u);  // submitted, placed, succeeded: paged from the database
  EXPECT_TRUE(finished);
}

// Every job, through ListJobs pages of one job each: name -> serialized job.
std::map<std::string, std::string> ListAll(ControlPlane& plane, std::vector<int> states = {}) {
  std::map<std::string, std::string> listed;
  v1::ListJobsRequest request;
  request.set_page_size(1);
  for (int state : states) request.add_states(static_cast<v1::JobState>(state));
  do {
    auto page = plane.ListJobs(request);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    for (const v1::Job& job : page->jobs()) EXPECT_TRUE(listed.emplace(job.name(), job.SerializeAsString()).second);
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  return listed;
}

TEST_F(ControlPlaneTest, AFinishedJobLeavesMemoryAfterItsRetentionAndIsServedFromTheStoreAlike) {
  v1::RegisterWorkerRequest worker;
  worker.set_worker_id("w");
  worker.mutable_resources()->set_cpu_slots(2);
  worker.mutable_resources()->set_log_address("10.0.0.7:7000");
  sessions_["w"] = plane_->RegisterWorker(worker)->session();
  v1::Job done = Submit(1);
  v1::Job running = Submit(1);
  plane_->Tick();
  done = Get(done.name());
  running = Get(running.name());
  v1::ReportMetricsRequest report;
  report.set_worker_id("w");
  report.set_session(sessions_["w"]);
  report.set_generation(done.generation());
  v1::MetricSample* sample = report.add_samples();
  sample->set_job(done.name());
  sample->set_step(7);
  ASSERT_TRUE(plane_->ReportMetrics(report).ok());
  Beat("w", {Rank(done, 0, v1::RANK_PHASE_SUCCEEDED), Rank(running, 0, v1::RANK_PHASE_RUNNING)});
  done = Get(done.name());
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED);
  const auto listed = ListAll(*plane_);
  const auto listed_succeeded = ListAll(*plane_, {v1::JOB_STATE_SUCCEEDED});
  ASSERT_EQ(listed.size(), 2u);
  ASSERT_EQ(listed_succeeded.size(), 1u);
  EXPECT_EQ(plane_->Stats().jobs_in_memory, 2);

  // Within the retention it stays; past it, it leaves memory (the running job stays).
  now_ += absl::Minutes(59);
  Beat("w", {Rank(running, 0, v1::RANK_PHASE_RUNNING)});
  plane_->Tick();
  EXPECT_EQ(plane_->Stats().jobs_in_memory, 2);
  now_ += absl::Minutes(2);
  Beat("w", {Rank(running, 0, v1::RANK_PHASE_RUNNING)});
  plane_->Tick();

  auto expect_served_alike = [&] {
    EXPECT_EQ(plane_->Stats().jobs_in_memory, 1);
    EXPECT_EQ(Get(done.name()).SerializeAsString(), done.SerializeAsString());
    // Both listed, once each, the finished job alike (the running one moves
    // on: an hour without a step ends its attempt as hung and requeues it).
    const auto now_listed = ListAll(*plane_);
    ASSERT_EQ(now_listed.size(), 2u);
    ASSERT_EQ(now_listed.count(done.name()), 1u);
    EXPECT_EQ(now_listed.at(done.name()), listed.at(done.name()));
    EXPECT_EQ(ListAll(*plane_, {v1::JOB_STATE_SUCCEEDED}), listed_succeeded);
    bool finished = false;
    auto events = plane_->EventsAfter(done.name(), 0, &finished);
    ASSERT_TRUE(events.ok()) << events.status();
    EXPECT_EQ(events->size(), 3u);  // submitted, placed, succeeded
    EXPECT_TRUE(finished);
    int64_t cursor = 0;
    auto samples = plane_->MetricsAfter(done.name(), &cursor, 0, &finished);
    ASSERT_TRUE(samples.ok()) << samples.status();
    ASSERT_EQ(samples->size(), 1u);
    EXPECT_EQ((*samples)[0].step(), 7);
    auto source = plane_->FindLogSource(done.name(), 0);
    ASSERT_TRUE(source.ok()) << source.status();
    EXPECT_EQ(source->log_address, "10.0.0.7:7000");
    EXPECT_EQ(plane_->CancelJob(done.name()).status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(plane_->GetJob("jobs/never").status().code(), absl::StatusCode::kNotFound);
    v1::CreateJobRequest again;
    again.set_job_id(done.name().substr(5));
    again.mutable_spec()->mutable_model()->set_path("/m");
    again.mutable_spec()->mutable_dataset()->set_path("/d.jsonl");
    EXPECT_EQ(plane_->CreateJob(again).status().code(), absl::StatusCode::kAlreadyExists);
  };
  expect_served_alike();
  EXPECT_EQ(plane_->Stats().jobs_forgotten_total, 1);
  Open();  // a restart changes nothing: the finished job is not loaded back
  expect_served_alike();
  EXPECT_EQ(Get(running.name()).state(), v1::JOB_STATE_RUNNING);
}

TEST_F(ControlPlaneTest, AWorkerLostPastItsRetentionLeavesTheRegistryAndTheStore) {
  Register("gone", 1);
  Register("stays", 1);
  now_ += absl::Seconds(20);  // past the 15 s timeout
  Beat("stays");
  plane_->Tick();
  ASSERT_EQ(plane_->GetWorker("workers/gone")->state(), v1::WORKER_STATE_LOST);
  ASSERT_EQ(plane_->Stats().heartbeats_missed_total.count("gone"), 1u);
  for (int hour = 0; hour < 25; ++hour) {
    now_ += absl::Hours(1);
    Beat("stays");
    plane_->Tick();
  }
  EXPECT_EQ(plane_->GetWorker("workers/gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(plane_->GetWorker("workers/stays").ok());
  const ControlPlaneStats stats = plane_->Stats();
  EXPECT_EQ(stats.heartbeats_missed_total.count("gone"), 0u) << "its /metrics series go too";
  EXPECT_EQ(stats.worker_heartbeat_age_seconds.count("gone"), 0u);
  Open();
  EXPECT_EQ(plane_->GetWorker("workers/gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(plane_->ListWorkers({}).workers_size(), 1);
}

// total_steps arrives as a double from a worker: NaN, Inf and values past
// int64 are dropped before the cast to the progress' integer (undefined
// behaviour otherwise), and a good figure stays.
// The trainer's lineage report lands on the job, in the database first (it
// survives a restart); a malformed one is dropped without failing the report.
TEST_F(ControlPlaneTest, ALineageReportIsStoredOnTheJobAndAMalformedOneIsDropped) {
  Register("w", 1);
  v1::Job job = Submit(1);
  plane_->Tick();
  job = Get(job.name());
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  auto report = [&](const std::string& text) {
    return ReportSample(job, metric_keys::kLineageEvent, 0, {}, {{metric_keys::kLineage, text}});
  };
  ASSERT_TRUE(report("{not json").ok());
  EXPECT_TRUE(Get(job.name()).lineage().spec_sha256().empty());
  ASSERT_TRUE(report(R"({"tunefleet_version": "0.1.0", "spec_sha256": "abc", "inputs": [)"
                     R"({"role": "dataset", "path": "/d.jsonl", "size_bytes": 3, "sha256": "def"}]})")
                  .ok());
  EXPECT_EQ(Get(job.name()).lineage().spec_sha256(), "abc");
  Open();  // a new process on the same database
  const v1::Job reread = Get(job.name());
  EXPECT_EQ(reread.lineage().spec_sha256(), "abc");
  ASSERT_EQ(reread.lineage().inputs_size(), 1);
  EXPECT_EQ(reread.lineage().inputs(0).path(), "/d.jsonl");
  EXPECT_EQ(reread.lineage().inputs(0).size_bytes(), 3u);
}

// The after-training evaluation and an early stop land on the job as it and
// its events, in the database first; a malformed or out-of-range evaluation
// is dropped without failing the report.
TEST_F(ControlPlaneTest, AnEvaluationReportAndAnEarlyStopAreStoredOnTheJobWithEvents) {
  Register("w", 1);
  v1::Job job = Submit(1);
  plane_->Tick();
  job = Get(job.name());
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  auto report = [&](const std::string& event, const std::map<std::string, double>& values,
                    const std::map<std::string, std::string>& text) {
    return ReportSample(job, event, 40, values, text);
  };
  const auto events = [&] {
    bool finished = false;
    auto all = plane_->EventsAfter(job.name(), 0, &finished);
    EXPECT_TRUE(all.ok()) << all.status();
    std::string text;
    for (const auto& e : *all) text += e.message() + "\n";
    return text;
  };
  ASSERT_TRUE(report(metric_keys::kEvaluationEvent, {}, {{metric_keys::kEvaluation, "{not json"}}).ok());
  ASSERT_TRUE(report(metric_keys::kEvaluationEvent, {},
                     {{metric_keys::kEvaluation,
                       R"j({"examples": "4", "rows": [{"metric": "exact match", "n": "4", "candidate": 7}]})j"}})
                  .ok());
  EXPECT_EQ(Get(job.name()).evaluation().examples(), 0);
  ASSERT_TRUE(report(metric_keys::kEarlyStopEvent, {{metric_keys::kBestStep, 20}, {metric_keys::kBestEvalLoss, 0.5}}, {})
                  .ok());
  ASSERT_TRUE(report(metric_keys::kEvaluationEvent, {},
                     {{metric_keys::kEvaluation,
                       R"j({"dataPath": "/t.jsonl", "examples": "4", "baseline": "base", "confidence": 0.95,)j"
                       R"j("rows": [{"task": "all", "metric": "exact match", "n": "4", "baseline": 0.25,)j"
                       R"j("candidate": 0.75, "difference": 0.5, "ciLow": 0.25, "ciHigh": 0.75}]})j"}})
                  .ok());
  EXPECT_EQ(Get(job.name()).evaluation().examples(), 4);
  const std::string said = events();
  EXPECT_NE(said.find("stopped early after step 40: the validation loss stopped improving (best 0.5 at step 20)"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("evaluated against base: exact match 25.0% -> 75.0% (+50.0 pts, 95% interval [+25.0, +75.0])"),
            std::string::npos)
      << said;
  Open();  // a new process on the same database
  const v1::Job reread = Get(job.name());
  ASSERT_EQ(reread.evaluation().rows_size(), 1);
  EXPECT_EQ(reread.evaluation().rows(0).candidate(), 0.75);
  EXPECT_EQ(events(), said);
}

TEST_F(ControlPlaneTest, NonFiniteOrHugeTotalStepsIsDroppedBeforeTheCast) {
  Register("w", 1);
  v1::Job job = Submit(1);
  plane_->Tick();
  job = Get(job.name());
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  const double values[] = {100, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), 1e300, -5};
  int step = 0;
  for (double total : values) {
    v1::ReportMetricsRequest report;
    report.set_worker_id("w");
    report.set_session(sessions_["w"]);
    report.set_generation(job.generation());
    v1::MetricSample* sample = report.add_samples();
    sample->set_job(job.name());
    sample->set_event("step");
    sample->set_step(++step);
    (*sample->mutable_values())["total_steps"] = total;
    ASSERT_TRUE(plane_->ReportMetrics(report).ok()) << total;
    EXPECT_EQ(Get(job.name()).progress().total_steps(), 100) << total;
  }
}

TEST_F(ControlPlaneTest, WorkerDrainedByItsOwnSigtermIsReadyAfterItRestartsButAnOperatorsDrainStays) {
  Register("self", 1);
  Register("op", 1);
  v1::HeartbeatRequest sigterm;
  sigterm.set_worker_id("self");
  sigterm.set_session(sessions_["self"]);
  sigterm.set_draining(true);
  ASSERT_TRUE(plane_->Heartbeat(sigterm).ok());
  v1::DrainWorkerRequest drain;
  drain.set_name("workers/op");
  ASSERT_TRUE(plane_->DrainWorker(drain).ok());
  EXPECT_EQ(plane_->GetWorker("workers/self")->state(), v1::WORKER_STATE_DRAINED);  // idle: at once
  EXPECT_EQ(plane_->GetWorker("workers/op")->state(), v1::WORKER_STATE_DRAINED);

  Register("self", 1);  // the restarted processes
  Register("op", 1);
  EXPECT_EQ(plane_->GetWorker("workers/self")->state(), v1::WORKER_STATE_READY);
  EXPECT_EQ(plane_->GetWorker("workers/op")->state(), v1::WORKER_STATE_DRAINED);
}

TEST_F(ControlPlaneTest, DrainStopsGangsAtTheDeadlineThenTheWorkerIsDrained) {
  Register("w", 1);
  v1::Job job = Submit(1, /*max_restarts=*/0);
  plane_->Tick();
  job = Get(job.name());
  Beat("w", {Rank(job, 0, v1::RANK_PHASE_RUNNING)});
  v1::DrainWorkerRequest drain;
  drain.set_name("workers/w");
  drain.mutable_deadline()->set_seconds(10);  // within the worker timeout
  EXPECT_EQ(plane_->DrainWorker(drain)->state(), v1::WORKER_STATE_DRAINING);
  auto reply = Beat("w", {Rank(job, 0, v1::RANK_PHASE_RUNNING)});
  EXPECT_EQ(reply.checkpoint_now_size(), 1);  // the seam: asked once
  EXPECT_EQ(Beat("w", {Rank(job, 0, v1::RANK_PHASE_RUNNING)}).checkpoint_now_size(), 0);
  now_ += absl::Seconds(11);
  plane_->Tick();
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(Get(job.name()).restarts_used(), 0);
  EXPECT_EQ((*plane_->GetWorker("workers/w")).state(), v1::WORKER_STATE_DRAINING);  // rank not yet dead
  Beat("w", {Rank(job, 0, v1::RANK_PHASE_STOPPED)});
  plane_->Tick();
  EXPECT_EQ((*plane_->GetWorker("workers/w")).state(), v1::WORKER_STATE_DRAINED);
  EXPECT_EQ(plane_->UncordonWorker("workers/w")->state(), v1::WORKER_STATE_READY);
}

// A gang larger than every worker known can hold together is refused at
// submission, whether it comes alone or in a group commit with others (the
// workers' room is counted once per batch, per GPUs-per-rank), and the room
// is counted again for the next batch: a worker added since counts.
TEST_F(ControlPlaneTest, AGangNoWorkersCanEverHoldIsRefusedAloneOrInABatch) {
  Register("c1", 4);
  Register("c2", 4);
  v1::RegisterWorkerRequest gpu;
  gpu.set_worker_id("g1");
  for (int g = 0; g < 3; ++g) gpu.mutable_resources()->add_gpus()->set_index(g);
  ASSERT_TRUE(plane_->RegisterWorker(gpu).ok());
  auto request = [](int world_size, int gpus_per_rank) {
    v1::CreateJobRequest r;
    r.mutable_spec()->mutable_model()->set_path("/m");
    r.mutable_spec()->mutable_dataset()->set_path("/d.jsonl");
    r.mutable_spec()->mutable_resources()->set_world_size(world_size);
    r.mutable_spec()->mutable_resources()->set_gpus_per_rank(gpus_per_rank);
    return r;
  };
  // CPU ranks: 8 slots in all; GPU ranks (one GPU each): 3.
  const struct {
    int world_size, gpus_per_rank;
    bool fits;
  } cases[] = {{8, 0, true}, {9, 0, false}, {3, 1, true}, {4, 1, false}};
  auto alone = plane_->CreateJob(request(9, 0));
  EXPECT_EQ(alone.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(alone.status().message()), HasSubstr("the 3 workers known hold at most 8"));

  constexpr int kRounds = 4;
  std::vector<std::thread> threads;
  std::vector<absl::StatusCode> codes(kRounds * std::size(cases));
  for (size_t i = 0; i < codes.size(); ++i) {
    threads.emplace_back([&, i] {
      const auto& c = cases[i % std::size(cases)];
      codes[i] = plane_->CreateJob(request(c.world_size, c.gpus_per_rank)).status().code();
    });
  }
  for (auto& thread : threads) thread.join();
  for (size_t i = 0; i < codes.size(); ++i) {
    const auto& c = cases[i % std::size(cases)];
    EXPECT_EQ(codes[i], c.fits ? absl::StatusCode::kOk : absl::StatusCode::kFailedPrecondition)
        << "world_size " << c.world_size << ", gpus_per_rank " << c.gpus_per_rank;
  }

  Register("c3", 1);
  EXPECT_TRUE(plane_->CreateJob(request(9, 0)).ok());
  EXPECT_EQ(plane_->CreateJob(request(10, 0)).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tunefleet::coordinator
