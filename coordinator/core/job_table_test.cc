#include "coordinator/core/job_table.h"

#include <gtest/gtest.h>

#include "common/proto_time.h"

namespace tunefleet::coordinator {
namespace {

JobEntry Job(const std::string& id, int64_t order, int32_t priority, v1::JobState state,
             const std::string& request_id = "") {
  JobEntry entry;
  entry.job.set_name("jobs/" + id);
  entry.job.set_state(state);
  entry.job.mutable_spec()->set_priority(priority);
  entry.order = order;
  entry.request_id = request_id;
  return entry;
}

std::vector<std::string> QueuedNames(const JobTable& table) {
  std::vector<std::string> names;
  for (const auto& [key, entry] : table.queue()) names.push_back(entry->job.name());
  return names;
}

TEST(JobTable, QueueIsPriorityThenSubmissionOrder) {
  JobTable table;
  table.Add(Job("a", 1, 0, v1::JOB_STATE_QUEUED));
  table.Add(Job("b", 2, 5, v1::JOB_STATE_QUEUED));
  table.Add(Job("c", 3, 0, v1::JOB_STATE_QUEUED));
  table.Add(Job("d", 4, 9, v1::JOB_STATE_RUNNING));
  EXPECT_EQ(QueuedNames(table), (std::vector<std::string>{"jobs/b", "jobs/a", "jobs/c"}));
  EXPECT_EQ(table.size(), 4u);
}

TEST(JobTable, SetKeepsTheQueueInStepWithTheState) {
  JobTable table;
  JobEntry& a = table.Add(Job("a", 1, 0, v1::JOB_STATE_QUEUED));
  table.Add(Job("b", 2, 0, v1::JOB_STATE_QUEUED));

  v1::Job running = a.job;
  running.set_state(v1::JOB_STATE_RUNNING);
  EXPECT_FALSE(table.Set(a, running));
  EXPECT_EQ(QueuedNames(table), (std::vector<std::string>{"jobs/b"}));
  EXPECT_EQ(table.Find("jobs/a")->job.state(), v1::JOB_STATE_RUNNING);

  v1::Job requeued = a.job;
  requeued.set_state(v1::JOB_STATE_QUEUED);
  EXPECT_TRUE(table.Set(a, requeued)) << "QUEUED again: a pass may place it";
  EXPECT_EQ(QueuedNames(table), (std::vector<std::string>{"jobs/a", "jobs/b"})) << "it keeps its submission order";

  v1::Job cancelled = a.job;
  cancelled.set_state(v1::JOB_STATE_CANCELLED);
  EXPECT_FALSE(table.Set(a, cancelled));
  EXPECT_EQ(QueuedNames(table), (std::vector<std::string>{"jobs/b"}));
}

TEST(JobTable, FindsByRequestIdAndOrder) {
  JobTable table;
  table.Add(Job("a", 7, 0, v1::JOB_STATE_QUEUED, "req-1"));
  table.Add(Job("b", 3, 0, v1::JOB_STATE_QUEUED));
  ASSERT_NE(table.ForRequest("req-1"), nullptr);
  EXPECT_EQ(table.ForRequest("req-1")->job.name(), "jobs/a");
  EXPECT_EQ(table.ForRequest("req-2"), nullptr);
  std::vector<std::string> in_order;
  for (const auto& [order, name] : table.by_order()) in_order.push_back(name);
  EXPECT_EQ(in_order, (std::vector<std::string>{"jobs/b", "jobs/a"}));
}

TEST(JobTable, GetChecksTheNameAndSaysNotFound) {
  JobTable table;
  table.Add(Job("a", 1, 0, v1::JOB_STATE_QUEUED));
  EXPECT_TRUE(table.Get("jobs/a").ok());
  EXPECT_EQ(table.Get("jobs/b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(table.Get("workers/a").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JobTable, ForgetsOnlyJobsThatEndedByTheCutoff) {
  JobTable table;
  const absl::Time t0 = absl::FromUnixSeconds(10000);
  JobEntry old_job = Job("old", 1, 0, v1::JOB_STATE_SUCCEEDED, "req-old");
  *old_job.job.mutable_end_time() = ToProtoTime(t0 - absl::Hours(2));
  JobEntry recent = Job("recent", 2, 0, v1::JOB_STATE_FAILED);
  *recent.job.mutable_end_time() = ToProtoTime(t0 - absl::Minutes(1));
  table.Add(std::move(old_job));
  table.Add(std::move(recent));
  table.Add(Job("running", 3, 0, v1::JOB_STATE_RUNNING));
  table.Add(Job("queued", 4, 0, v1::JOB_STATE_QUEUED));

  EXPECT_EQ(table.ForgetEndedBy(t0 - absl::Hours(1)), (std::vector<std::string>{"jobs/old"}));
  EXPECT_EQ(table.Find("jobs/old"), nullptr);
  EXPECT_EQ(table.ForRequest("req-old"), nullptr) << "its request id deduplicates no more";
  EXPECT_EQ(table.by_order().count(1), 0u);
  EXPECT_EQ(table.forgotten(), 1);
  EXPECT_EQ(table.size(), 3u);

  EXPECT_TRUE(table.ForgetEndedBy(absl::InfinitePast()).empty()) << "an infinite retention forgets nothing";
  EXPECT_EQ(table.ForgetEndedBy(t0), (std::vector<std::string>{"jobs/recent"}));
  EXPECT_EQ(QueuedNames(table), (std::vector<std::string>{"jobs/queued"})) << "active jobs stay";
}

TEST(JobTable, AJobThatEndsThroughSetIsForgottenByItsEndTime) {
  JobTable table;
  const absl::Time t0 = absl::FromUnixSeconds(10000);
  JobEntry& a = table.Add(Job("a", 1, 0, v1::JOB_STATE_RUNNING));
  JobEntry& b = table.Add(Job("b", 2, 0, v1::JOB_STATE_QUEUED));
  v1::Job a_done = a.job;
  a_done.set_state(v1::JOB_STATE_SUCCEEDED);
  *a_done.mutable_end_time() = ToProtoTime(t0 + absl::Minutes(5));
  table.Set(a, a_done);
  v1::Job b_done = b.job;
  b_done.set_state(v1::JOB_STATE_CANCELLED);
  *b_done.mutable_end_time() = ToProtoTime(t0);
  table.Set(b, b_done);
  table.Add(Job("c", 3, 0, v1::JOB_STATE_RUNNING));
  EXPECT_TRUE(table.ForgetEndedBy(t0 - absl::Seconds(1)).empty());
  EXPECT_EQ(table.ForgetEndedBy(t0 + absl::Hours(1)), (std::vector<std::string>{"jobs/a", "jobs/b"}));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(table.ForgetEndedBy(t0 + absl::Hours(2)).empty()) << "each is forgotten once";
}

TEST(JobTable, NextEventFollowsTheNewest) {
  JobEntry entry = Job("a", 1, 0, v1::JOB_STATE_QUEUED);
  entry.last_event = 4;
  v1::Job next = entry.job;
  next.set_state(v1::JOB_STATE_RUNNING);
  next.set_attempt(2);
  const v1::JobEvent event = JobTable::NextEvent(entry, next, "placed", absl::FromUnixSeconds(5));
  EXPECT_EQ(event.sequence(), 5);
  EXPECT_EQ(event.job(), "jobs/a");
  EXPECT_EQ(event.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(event.attempt(), 2);
  EXPECT_EQ(event.message(), "placed");
  EXPECT_EQ(FromProtoTime(event.time()), absl::FromUnixSeconds(5));
}

}  // namespace
}  // namespace tunefleet::coordinator
