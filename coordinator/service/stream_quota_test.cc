#include "coordinator/service/stream_quota.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace tunefleet::coordinator {
namespace {

using ::testing::HasSubstr;

TEST(StreamQuotaTest, TheCallersNPlusFirstIsRefusedNamingTheLimitAndFreedSlotsReturn) {
  StreamQuota quota(StreamLimits{3, 100});
  std::vector<StreamQuota::Lease> held;
  for (int i = 0; i < 3; ++i) {
    auto lease = quota.Acquire("user:alice");
    ASSERT_TRUE(lease.ok()) << lease.status();
    held.push_back(std::move(*lease));
  }
  auto refused = quota.Acquire("user:alice");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("--max-streams-per-user"));
  EXPECT_TRUE(quota.Acquire("user:bob").ok()) << "another caller is not charged";
  held.pop_back();
  EXPECT_TRUE(quota.Acquire("user:alice").ok());
  held.clear();
  EXPECT_EQ(quota.open(), 0);
}

TEST(StreamQuotaTest, TheGlobalLimitHoldsAcrossCallers) {
  StreamQuota quota(StreamLimits{10, 4});
  std::vector<StreamQuota::Lease> held;
  for (int i = 0; i < 4; ++i) held.push_back(*quota.Acquire("user:" + std::to_string(i)));
  auto refused = quota.Acquire("user:new");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("--max-streams)"));
  EXPECT_EQ(quota.open(), 4);
}

}  // namespace
}  // namespace tunefleet::coordinator
