// A follow of a rank's log through the coordinator ends on the worker as
// soon as the user's client goes: the coordinator's relay cancels its own
// stream to the worker with its client's (docs/operations.md, "Rank logs").

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/control_plane/cluster.h"

namespace tunefleet::testing {
namespace {

using ::testing::HasSubstr;

TEST(LogFollowE2e, ACancelledFollowThroughTheCoordinatorEndsOnTheWorker) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  const v1::Job job = cluster.Submit(cluster.FakeJob("hang"));
  cluster.WaitForState(job.name(), v1::JOB_STATE_RUNNING);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  v1::ReadJobLogsRequest request;
  request.set_name(job.name());
  request.set_follow(true);
  auto reader = cluster.jobs().ReadJobLogs(&context, request);
  v1::LogEntry entry;
  ASSERT_TRUE(reader->Read(&entry)) << cluster.WorkerLog("w1");
  EXPECT_THAT(entry.line(), HasSubstr("fake-trainer pid"));  // following a rank that runs on
  const std::string ended = "log follow of " + job.name() + " attempt 1 rank 0 ended: the client went away";
  EXPECT_THAT(cluster.WorkerLog("w1"), ::testing::Not(HasSubstr(ended)));

  context.TryCancel();
  reader->Finish().IgnoreError();
  EXPECT_TRUE(WaitUntil([&] { return cluster.WorkerLog("w1").find(ended) != std::string::npos; }, 5s))
      << cluster.WorkerLog("w1");
}

}  // namespace
}  // namespace tunefleet::testing
