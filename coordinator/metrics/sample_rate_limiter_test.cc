#include "coordinator/metrics/sample_rate_limiter.h"

#include <gtest/gtest.h>

namespace tunefleet::coordinator {
namespace {

TEST(SampleRateLimiterTest, ABurstPassesThenTheRateAndEachKeyHasItsOwnBucket) {
  SampleRateLimiter limiter(/*rate=*/10, /*burst=*/5);
  absl::Time now = absl::FromUnixSeconds(1000);
  int passed = 0;
  for (int i = 0; i < 100; ++i) passed += limiter.Admit("jobs/a 0", now);
  EXPECT_EQ(passed, 5);
  EXPECT_TRUE(limiter.Admit("jobs/a 1", now)) << "another rank is not charged";
  now += absl::Seconds(1);  // 10 tokens, capped at the burst of 5
  passed = 0;
  for (int i = 0; i < 100; ++i) passed += limiter.Admit("jobs/a 0", now);
  EXPECT_EQ(passed, 5);
  now += absl::Milliseconds(300);
  passed = 0;
  for (int i = 0; i < 100; ++i) passed += limiter.Admit("jobs/a 0", now);
  EXPECT_EQ(passed, 3);
}

TEST(SampleRateLimiterTest, RefilledBucketsAreForgotten) {
  SampleRateLimiter limiter(10, 5);
  absl::Time now = absl::FromUnixSeconds(1000);
  for (int key = 0; key < 50; ++key) limiter.Admit("jobs/a " + std::to_string(key), now);
  EXPECT_EQ(limiter.keys(), 50u);
  limiter.Prune(now);
  EXPECT_EQ(limiter.keys(), 50u) << "each still owes a token";
  limiter.Prune(now + absl::Seconds(1));
  EXPECT_EQ(limiter.keys(), 0u);
}

TEST(SampleRateLimiterTest, ZeroRateIsNoLimit) {
  SampleRateLimiter limiter(0, 1);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Admit("k", absl::FromUnixSeconds(1)));
  EXPECT_EQ(limiter.keys(), 0u);
}

}  // namespace
}  // namespace tunefleet::coordinator
