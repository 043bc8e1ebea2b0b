// Trainers run bounded (docs/operations.md, "Trainer limits"): a real worker
// starts a fake trainer that allocates past its limit; the trainer is
// stopped and the job fails saying which limit it met.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/control_plane/cluster.h"

namespace tunefleet::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

TEST(TrainerLimitsE2e, ATrainerAllocatingPastItsLimitIsStoppedAndTheJobSaysWhichLimit) {
  Cluster cluster;
  cluster.StartCoordinator();
  // Both limits at 1 GiB: where this machine lets the worker make cgroups the
  // OOM killer may strike first (memory.max), elsewhere the address space
  // limit refuses the allocation. Either way the reason names its flag.
  cluster.StartWorker("w1", 1, {"--trainer-address-space-max", "1G", "--trainer-memory-max", "1G"});
  v1::CreateJobRequest request = cluster.FakeJob("alloc_mb=3072,steps=1");
  request.mutable_spec()->mutable_restart()->set_max_restarts(0);
  const v1::Job job = cluster.WaitForState(cluster.Submit(request).name(), v1::JOB_STATE_FAILED, 60s);
  EXPECT_THAT(
      job.failure_reason(),
      AnyOf(HasSubstr("exited with code 71: out of memory (exit 71): an allocation was refused at the "
                      "address-space limit RLIMIT_AS of 1 GiB (--trainer-address-space-max)"),
            HasSubstr("memory.max of 1 GiB (--trainer-memory-max)")))
      << cluster.EventLog(job.name());
  EXPECT_THAT(cluster.WorkerLog("w1"), HasSubstr("trainer limits: address space 1 GiB"));
}

TEST(TrainerLimitsE2e, WithinItsLimitsATrainerRunsAsBefore) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1, {"--trainer-address-space-max", "4G"});
  const v1::Job job = cluster.WaitForState(cluster.Submit(cluster.FakeJob("alloc_mb=256,steps=2")).name(),
                                           v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.failure_reason(), "");
}

}  // namespace
}  // namespace tunefleet::testing
