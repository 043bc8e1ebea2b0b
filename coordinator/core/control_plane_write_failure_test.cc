// Write, then apply: a store write that fails (a full disk, a read-only file)
// in the middle of submit, cancel, placement, completion or drain fails the
// RPC with UNAVAILABLE and leaves memory as it was; after recovery the change
// goes through, and after a restart memory and database agree.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <thread>

#include "coordinator/core/control_plane.h"
#include "coordinator/store/sqlite_store.h"
#include "coordinator/store/testing/faulty_store.h"
#include "tests/testing/child_process.h"

namespace tunefleet::coordinator {
namespace {

using store::testing::FaultyStore;

class WriteFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tunefleet::testing::FreshTestDirectory() + "/state.db";
    Open();
  }
  void Open() {
    plane_.reset();
    auto sqlite = store::OpenSqliteStore(path_);
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    ControlPlaneOptions options;
    options.clock = [this] { return now_; };
    auto plane =
        ControlPlane::Create(std::make_unique<FaultyStore>(std::move(*sqlite), &fail_, &job_transactions_), options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    sessions_.clear();
  }
  void Register(const std::string& id, int32_t cpu_slots = 1) {
    v1::RegisterWorkerRequest request;
    request.set_worker_id(id);
    request.mutable_resources()->set_cpu_slots(cpu_slots);
    auto response = plane_->RegisterWorker(request);
    ASSERT_TRUE(response.ok()) << response.status();
    sessions_[id] = response->session();
  }
  absl::StatusOr<v1::HeartbeatResponse> Beat(const std::string& id, const std::vector<v1::RankStatus>& ranks = {}) {
    v1::HeartbeatRequest request;
    request.set_worker_id(id);
    request.set_session(sessions_[id]);
    for (const auto& r : ranks) *request.add_ranks() = r;
    return plane_->Heartbeat(request);
  }
  static v1::RankStatus Rank(const v1::Job& job, v1::RankPhase phase) {
    v1::RankStatus status;
    status.set_job(job.name());
    status.set_generation(job.generation());
    status.set_rank(0);
    status.set_phase(phase);
    return status;
  }
  absl::StatusOr<v1::Job> Submit(const std::string& request_id) {
    v1::CreateJobRequest request;
    request.set_request_id(request_id);
    request.mutable_spec()->mutable_model()->set_path("/m");
    request.mutable_spec()->mutable_dataset()->set_path("/d.jsonl");
    request.mutable_spec()->mutable_resources()->set_world_size(1);
    return plane_->CreateJob(request);
  }
  v1::Job Get(const std::string& name) { return *plane_->GetJob(name); }
  // A job placed on w1 and reported running.
  v1::Job Running() {
    Register("w1");
    auto job = Submit("r1");
    EXPECT_TRUE(job.ok());
    plane_->Tick();
    v1::Job running = Get(job->name());
    EXPECT_EQ(running.state(), v1::JOB_STATE_RUNNING);
    EXPECT_TRUE(Beat("w1", {Rank(running, v1::RANK_PHASE_RUNNING)}).ok());
    return running;
  }
  int64_t EventCount(const std::string& name) {
    bool finished = false;
    return static_cast<int64_t>(plane_->EventsAfter(name, 0, &finished)->size());
  }
  // What memory says of every job and worker: state, attempt, generation, events.
  std::string Snapshot() {
    std::string out;
    v1::ListJobsRequest request;
    request.set_page_size(1000);
    const v1::ListJobsResponse jobs = *plane_->ListJobs(request);
    for (const v1::Job& job : jobs.jobs()) {
      out += job.name() + " " + v1::JobState_Name(job.state()) + " attempt " + std::to_string(job.attempt()) +
             " generation " + std::to_string(job.generation()) + " events " +
             std::to_string(EventCount(job.name())) + "\n";
    }
    const v1::ListWorkersResponse workers = plane_->ListWorkers({});
    for (const v1::Worker& worker : workers.workers()) {
      out += worker.name() + " " + v1::WorkerState_Name(worker.state()) + "\n";
    }
    return out;
  }
  // Memory now equals what a restarted coordinator reads from the database.
  void ExpectRestartAgrees() {
    const std::string before = Snapshot();
    Open();
    EXPECT_EQ(Snapshot(), before);
  }

  std::string path_;
  bool fail_ = false;
  int job_transactions_ = 0;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::unique_ptr<ControlPlane> plane_;
  std::map<std::string, std::string> sessions_;
};

TEST_F(WriteFailureTest, SubmitIsUnavailableAndNotAcceptedThenTheRetryIsAcceptedOnce) {
  fail_ = true;
  auto refused = Submit("req-1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_EQ(plane_->ListJobs({})->jobs_size(), 0);
  ExpectRestartAgrees();
  fail_ = false;
  auto accepted = Submit("req-1");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  auto again = Submit("req-1");  // a client's retry of the acknowledged request
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->name(), accepted->name());
  ExpectRestartAgrees();
  EXPECT_EQ(plane_->ListJobs({})->jobs_size(), 1);
}

TEST_F(WriteFailureTest, CancelOfAQueuedJobIsUnavailableAndTheJobStaysQueued) {
  auto job = Submit("r1");
  ASSERT_TRUE(job.ok());
  fail_ = true;
  EXPECT_EQ(plane_->CancelJob(job->name()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Get(job->name()).state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(EventCount(job->name()), 1);
  ExpectRestartAgrees();
  fail_ = false;
  ASSERT_TRUE(plane_->CancelJob(job->name()).ok());
  EXPECT_EQ(Get(job->name()).state(), v1::JOB_STATE_CANCELLED);
  ExpectRestartAgrees();
  EXPECT_EQ(Get(job->name()).state(), v1::JOB_STATE_CANCELLED);
}

TEST_F(WriteFailureTest, CancelOfARunningJobIsUnavailableAndTheAttemptGoesOn) {
  const v1::Job job = Running();
  fail_ = true;
  EXPECT_EQ(plane_->CancelJob(job.name()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_RUNNING);
  auto beat = Beat("w1", {Rank(job, v1::RANK_PHASE_RUNNING)});
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->stop_size(), 0) << "nothing was stopped";
  fail_ = false;
  ASSERT_TRUE(plane_->CancelJob(job.name()).ok());
  beat = Beat("w1", {Rank(job, v1::RANK_PHASE_RUNNING)});
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->stop_size(), 1);
  ExpectRestartAgrees();
}

TEST_F(WriteFailureTest, PlacementThatCannotBeSavedIsNotSentAndTheNextPassPlacesIt) {
  Register("w1");
  auto job = Submit("r1");
  ASSERT_TRUE(job.ok());
  fail_ = true;
  plane_->Tick();
  EXPECT_EQ(Get(job->name()).state(), v1::JOB_STATE_QUEUED);
  auto beat = Beat("w1");
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->start_size(), 0) << "an assignment the database does not know must not reach a worker";
  const std::string before = Snapshot();
  fail_ = false;
  Open();  // a restart while failing: the same queued job, no attempt
  EXPECT_EQ(Snapshot(), before);
  Register("w1");
  plane_->Tick();
  const v1::Job placed = Get(job->name());
  EXPECT_EQ(placed.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(placed.generation(), 1);
  beat = Beat("w1");
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->start_size(), 1);
  ExpectRestartAgrees();
}

TEST_F(WriteFailureTest, CompletionThatCannotBeSavedFailsTheHeartbeatAndIsReportedAgain) {
  const v1::Job job = Running();
  fail_ = true;
  auto beat = Beat("w1", {Rank(job, v1::RANK_PHASE_SUCCEEDED)});
  EXPECT_EQ(beat.status().code(), absl::StatusCode::kUnavailable) << beat.status();
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_RUNNING);
  ExpectRestartAgrees();
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_RUNNING);
  fail_ = false;
  Register("w1");  // after the restart
  beat = Beat("w1", {Rank(job, v1::RANK_PHASE_SUCCEEDED)});
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_SUCCEEDED);
  ExpectRestartAgrees();
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_SUCCEEDED);
}

TEST_F(WriteFailureTest, DrainThatCannotBeSavedIsUnavailableAndTheWorkerStaysReady) {
  const v1::Job job = Running();
  fail_ = true;
  v1::DrainWorkerRequest drain;
  drain.set_name("workers/w1");
  EXPECT_EQ(plane_->DrainWorker(drain).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(plane_->GetWorker("workers/w1")->state(), v1::WORKER_STATE_READY);
  auto beat = Beat("w1", {Rank(job, v1::RANK_PHASE_RUNNING)});
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->checkpoint_now_size(), 0);
  EXPECT_EQ(plane_->CordonWorker("workers/w1").status().code(), absl::StatusCode::kUnavailable);
  ExpectRestartAgrees();
  fail_ = false;
  Register("w1");
  ASSERT_TRUE(plane_->DrainWorker(drain).ok());
  EXPECT_EQ(plane_->GetWorker("workers/w1")->state(), v1::WORKER_STATE_DRAINING);
  beat = Beat("w1", {Rank(job, v1::RANK_PHASE_RUNNING)});
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->checkpoint_now_size(), 1);
  ExpectRestartAgrees();
}

TEST_F(WriteFailureTest, ALostWorkerWhoseEndCannotBeSavedIsEndedOnceWritesRecover) {
  const v1::Job job = Running();
  fail_ = true;
  now_ += absl::Seconds(60);
  plane_->Tick();
  EXPECT_EQ(plane_->GetWorker("workers/w1")->state(), v1::WORKER_STATE_READY);
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_RUNNING);
  fail_ = false;
  plane_->Tick();
  EXPECT_EQ(plane_->GetWorker("workers/w1")->state(), v1::WORKER_STATE_LOST);
  EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_QUEUED);
  ExpectRestartAgrees();
}

// Group commit of placements: one pass's placements are one transaction;
// when it fails none is placed (or sent), and the next pass places them all.
TEST_F(WriteFailureTest, APassWhosePlacementsCannotBeSavedPlacesNoneAndTheNextPlacesAllInOneTransaction) {
  Register("w1", 2);
  Register("w2", 1);
  std::vector<v1::Job> jobs;
  for (const char* id : {"r1", "r2", "r3"}) jobs.push_back(*Submit(id));
  fail_ = true;
  plane_->Tick();
  for (const v1::Job& job : jobs) EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_QUEUED);
  auto beat = Beat("w1");
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->start_size(), 0);
  ExpectRestartAgrees();
  fail_ = false;
  Register("w1", 2);
  Register("w2", 1);
  const int before = job_transactions_;
  plane_->Tick();
  EXPECT_EQ(job_transactions_, before + 1) << "three placements, one transaction";
  std::set<int64_t> generations;
  for (const v1::Job& job : jobs) {
    EXPECT_EQ(Get(job.name()).state(), v1::JOB_STATE_RUNNING);
    generations.insert(Get(job.name()).generation());
  }
  EXPECT_EQ(generations, (std::set<int64_t>{1, 2, 3}));
  ExpectRestartAgrees();
}

// Attempts ending together (one heartbeat's exits) are one transaction; when
// it fails the heartbeat is UNAVAILABLE and every attempt is still running.
TEST_F(WriteFailureTest, AttemptsEndingInOneHeartbeatAreOneTransactionAndAllOrNone) {
  Register("w1", 2);
  const v1::Job a = *Submit("r1");
  const v1::Job b = *Submit("r2");
  plane_->Tick();
  const v1::Job ra = Get(a.name()), rb = Get(b.name());
  ASSERT_EQ(ra.state(), v1::JOB_STATE_RUNNING);
  ASSERT_EQ(rb.state(), v1::JOB_STATE_RUNNING);
  ASSERT_TRUE(Beat("w1", {Rank(ra, v1::RANK_PHASE_RUNNING), Rank(rb, v1::RANK_PHASE_RUNNING)}).ok());
  fail_ = true;
  auto beat = Beat("w1", {Rank(ra, v1::RANK_PHASE_SUCCEEDED), Rank(rb, v1::RANK_PHASE_FAILED)});
  EXPECT_EQ(beat.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Get(a.name()).state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(b.name()).state(), v1::JOB_STATE_RUNNING);
  fail_ = false;
  const int before = job_transactions_;
  beat = Beat("w1", {Rank(ra, v1::RANK_PHASE_SUCCEEDED), Rank(rb, v1::RANK_PHASE_FAILED)});
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(job_transactions_, before + 1) << "two ends, one transaction";
  EXPECT_EQ(Get(a.name()).state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_NE(Get(b.name()).state(), v1::JOB_STATE_RUNNING);
  ExpectRestartAgrees();
}

// Group commit: concurrent submissions are saved together; each is
// acknowledged once, retries (same request_id) get the same job, and every
// acknowledged job is there after a restart.
TEST_F(WriteFailureTest, ConcurrentSubmissionsAreGroupCommittedAndEachAcknowledgedJobExistsOnce) {
  constexpr int kThreads = 16, kPerThread = 40;
  std::vector<std::vector<std::string>> names(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Threads t and t^1 submit the same request ids: retries racing each other.
        auto job = Submit("req-" + std::to_string(t / 2) + "-" + std::to_string(i));
        if (job.ok()) names[t].push_back(job->name());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> acknowledged;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(names[t].size(), static_cast<size_t>(kPerThread));
    if (t % 2 == 1) {
      EXPECT_EQ(names[t], names[t - 1]) << "a retry gets the first submission's job";
    }
    acknowledged.insert(names[t].begin(), names[t].end());
  }
  EXPECT_EQ(acknowledged.size(), static_cast<size_t>(kThreads / 2 * kPerThread));
  v1::ListJobsRequest list;
  list.set_page_size(1000);
  EXPECT_EQ(plane_->ListJobs(list)->jobs_size(), kThreads / 2 * kPerThread);
  ExpectRestartAgrees();
  const v1::ListJobsResponse after = *plane_->ListJobs(list);
  std::set<std::string> stored;
  for (const v1::Job& job : after.jobs()) stored.insert(job.name());
  EXPECT_EQ(stored, acknowledged);
}

}  // namespace
}  // namespace tunefleet::coordinator
