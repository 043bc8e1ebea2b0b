#include "coordinator/store/store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/child_process.h"

namespace tunefleet::store {
namespace {

v1::Job MakeJob(const std::string& name, v1::JobState state) {
  v1::Job job;
  job.set_name(name);
  job.set_state(state);
  job.mutable_spec()->set_display_name(name + "-display");
  job.set_attempt(1);
  return job;
}

v1::JobEvent Event(const std::string& job, int64_t sequence, const std::string& message) {
  v1::JobEvent event;
  event.set_job(job);
  event.set_sequence(sequence);
  event.set_message(message);
  return event;
}

class StoreTest : public ::testing::Test {
 protected:
  std::string path_ = tunefleet::testing::FreshTestDirectory() + "/state.db";
};

TEST_F(StoreTest, JobsEventsAttemptsAndWorkersSurviveReopen) {
  {
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    auto a = (*store)->InsertJob(MakeJob("jobs/a", v1::JOB_STATE_QUEUED), "req-1", {Event("jobs/a", 1, "queued")});
    auto b = (*store)->InsertJob(MakeJob("jobs/b", v1::JOB_STATE_QUEUED), "", {Event("jobs/b", 1, "queued")});
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LT(*a, *b);

    v1::Job running = MakeJob("jobs/a", v1::JOB_STATE_RUNNING);
    running.set_generation(7);
    AttemptRecord attempt;
    attempt.job = "jobs/a";
    attempt.attempt = 1;
    attempt.generation = 7;
    attempt.placements.emplace_back();
    attempt.placements.back().set_worker("workers/w1");
    ASSERT_TRUE((*store)->UpdateJob(running, {Event("jobs/a", 2, "placed")}, attempt).ok());

    v1::Worker worker;
    worker.set_name("workers/w1");
    worker.set_state(v1::WORKER_STATE_CORDONED);
    ASSERT_TRUE((*store)->PutWorker(worker).ok());
  }  // closed, as after a restart

  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto jobs = (*store)->LoadJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].job.name(), "jobs/a");
  EXPECT_EQ((*jobs)[0].job.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ((*jobs)[0].job.generation(), 7);
  EXPECT_EQ((*jobs)[0].request_id, "req-1");
  EXPECT_EQ((*jobs)[1].job.spec().display_name(), "jobs/b-display");

  auto events = (*store)->LoadEvents("jobs/a", 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].message(), "placed");
  auto after = (*store)->LoadEvents("jobs/a", 1);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 1u);

  auto attempts = (*store)->LoadAttempts("jobs/a");
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].generation, 7);
  ASSERT_EQ((*attempts)[0].placements.size(), 1u);
  EXPECT_EQ((*attempts)[0].placements[0].worker(), "workers/w1");

  auto workers = (*store)->LoadWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].state(), v1::WORKER_STATE_CORDONED);
}

TEST_F(StoreTest, DuplicateJobNameIsAlreadyExistsAndWritesNothing) {
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->InsertJob(MakeJob("jobs/a", v1::JOB_STATE_QUEUED), "", {Event("jobs/a", 1, "x")}).ok());
  auto again = (*store)->InsertJob(MakeJob("jobs/a", v1::JOB_STATE_QUEUED), "", {Event("jobs/a", 2, "y")});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*store)->LoadEvents("jobs/a", 0)->size(), 1u);  // the failed insert rolled back
}

TEST_F(StoreTest, UpdatingAnUnknownJobIsNotFound) {
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->UpdateJob(MakeJob("jobs/nope", v1::JOB_STATE_QUEUED), {}).code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, UnopenablePathIsAnError) {
  auto store = Store::Open("/nonexistent-dir/x/state.db");
  EXPECT_FALSE(store.ok());
}

}  // namespace
}  // namespace tunefleet::store
