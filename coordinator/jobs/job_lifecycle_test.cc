#include "coordinator/jobs/job_lifecycle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet::jobs {
namespace {

using ::testing::HasSubstr;

v1::Job RunningJob(int32_t max_restarts, int32_t restarts_used = 0, int64_t attempt = 1) {
  v1::Job job;
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_attempt(attempt);
  job.set_restarts_used(restarts_used);
  job.mutable_spec()->mutable_restart()->set_max_restarts(max_restarts);
  return job;
}

TEST(JobLifecycle, TerminalStatesAreFinal) {
  for (auto terminal : {v1::JOB_STATE_SUCCEEDED, v1::JOB_STATE_FAILED, v1::JOB_STATE_CANCELLED}) {
    EXPECT_TRUE(IsTerminal(terminal));
    EXPECT_FALSE(CheckTransition(terminal, v1::JOB_STATE_QUEUED).ok());
    EXPECT_FALSE(CheckTransition(terminal, v1::JOB_STATE_RUNNING).ok());
  }
  EXPECT_TRUE(CheckTransition(v1::JOB_STATE_QUEUED, v1::JOB_STATE_RUNNING).ok());
  EXPECT_TRUE(CheckTransition(v1::JOB_STATE_RUNNING, v1::JOB_STATE_QUEUED).ok());
  EXPECT_FALSE(CheckTransition(v1::JOB_STATE_QUEUED, v1::JOB_STATE_SUCCEEDED).ok());
}

TEST(JobLifecycle, TrainerFailureSpendsARestartAndRequeuesWithBackoff) {
  auto out = AfterAttempt(RunningJob(3), v1::ATTEMPT_END_REASON_TRAINER_FAILED, "rank 0 exited 1", {});
  EXPECT_EQ(out.state, v1::JOB_STATE_QUEUED);
  EXPECT_EQ(out.attempt, 2);
  EXPECT_EQ(out.restarts_used, 1);
  EXPECT_EQ(out.backoff, absl::Seconds(2));
  EXPECT_THAT(out.event_message, HasSubstr("rank 0 exited 1"));
}

TEST(JobLifecycle, InfrastructureFailuresDoNotSpendRestarts) {
  for (auto reason : {v1::ATTEMPT_END_REASON_WORKER_LOST, v1::ATTEMPT_END_REASON_DRAINED}) {
    auto out = AfterAttempt(RunningJob(0), reason, "", {});
    EXPECT_EQ(out.state, v1::JOB_STATE_QUEUED);
    EXPECT_EQ(out.restarts_used, 0);
    EXPECT_EQ(out.attempt, 2);
  }
}

TEST(JobLifecycle, FailsWithTheReasonOnceRestartsAreSpent) {
  auto out = AfterAttempt(RunningJob(1, 1, 2), v1::ATTEMPT_END_REASON_TRAINER_FAILED, "rank 1 exited 3", {});
  EXPECT_EQ(out.state, v1::JOB_STATE_FAILED);
  EXPECT_EQ(out.restarts_used, 2);
  EXPECT_THAT(out.failure_reason, HasSubstr("rank 1 exited 3"));
  EXPECT_THAT(out.failure_reason, HasSubstr("max_restarts 1"));
}

TEST(JobLifecycle, BackoffDoublesUpToTheCap) {
  BackoffPolicy policy{absl::Seconds(1), absl::Seconds(5)};
  EXPECT_EQ(RestartBackoff(2, policy), absl::Seconds(1));
  EXPECT_EQ(RestartBackoff(3, policy), absl::Seconds(2));
  EXPECT_EQ(RestartBackoff(4, policy), absl::Seconds(4));
  EXPECT_EQ(RestartBackoff(10, policy), absl::Seconds(5));
}

TEST(JobLifecycle, CompletionAndCancel) {
  EXPECT_EQ(AfterAttempt(RunningJob(3), v1::ATTEMPT_END_REASON_COMPLETED, "", {}).state, v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(AfterAttempt(RunningJob(3), v1::ATTEMPT_END_REASON_CANCELLED, "by user", {}).state,
            v1::JOB_STATE_CANCELLED);
}

}  // namespace
}  // namespace tunefleet::jobs
