#include "coordinator/core/worker_lease.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet::coordinator {
namespace {

TEST(WorkerLeaseTest, TheLeaseEndsAMarginBeforeTheWorkerIsDeclaredLost) {
  // The defaults: 15 s timeout, 3 s heartbeats.
  auto lease = WorkerLease(absl::Seconds(15), absl::Seconds(3));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(*lease, absl::Milliseconds(13500));
  // Short timeouts (tests) keep a floor of 250 ms.
  lease = WorkerLease(absl::Milliseconds(1500), absl::Milliseconds(200));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(*lease, absl::Milliseconds(1250));
  EXPECT_EQ(WorkerLeaseMargin(absl::Seconds(1)), absl::Milliseconds(250));
}

TEST(WorkerLeaseTest, SettingsThatWouldFenceOnOneLateHeartbeatAreRefused) {
  auto lease = WorkerLease(absl::Seconds(6), absl::Seconds(3));  // 5.4 s < 2 x 3 s
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(lease.status().message(), ::testing::HasSubstr("--worker-timeout"));
  EXPECT_TRUE(WorkerLease(absl::Seconds(7), absl::Seconds(3)).ok());  // 6.3 s
}

}  // namespace
}  // namespace tunefleet::coordinator
