#include "trainer/train/validation_tracker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tunefleet {
namespace {

TEST(ValidationTrackerTest, CountsEvaluationsSinceTheBestAndStopsAtPatience) {
  ValidationTracker t(/*patience=*/2, /*min_delta=*/0.01);
  EXPECT_TRUE(t.Observe(10, 2.0));
  EXPECT_TRUE(t.Observe(20, 1.5));
  EXPECT_FALSE(t.Observe(30, 1.495));  // better, but not by more than min_delta
  EXPECT_FALSE(t.PatienceRanOut());
  EXPECT_FALSE(t.Observe(40, 1.7));
  EXPECT_TRUE(t.PatienceRanOut());
  EXPECT_EQ(t.best_step(), 20);
  EXPECT_EQ(t.best_loss(), 1.5);
}

TEST(ValidationTrackerTest, PatienceZeroNeverStopsAndANanIsNeverBest) {
  ValidationTracker t(0, 0);
  EXPECT_FALSE(t.Observe(1, std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(t.best_step().has_value());
  for (int i = 2; i < 100; ++i) t.Observe(i, 5.0);
  EXPECT_FALSE(t.PatienceRanOut());
  EXPECT_EQ(t.best_step(), 2);
}

TEST(ValidationTrackerTest, StateRoundTripsExactlyAndDamageIsRefused) {
  ValidationTracker t(3, 0);
  t.Observe(4, 0.1 + 0.2);  // not a short decimal
  t.Observe(8, 0.5);
  std::map<std::string, std::string> extra;
  t.SaveState(extra);
  ValidationTracker back(3, 0);
  ASSERT_TRUE(back.LoadState(extra).ok());
  EXPECT_EQ(back.best_step(), 4);
  EXPECT_EQ(back.best_loss(), 0.1 + 0.2);
  EXPECT_EQ(back.evals_since_best(), 1);

  ValidationTracker fresh(3, 0);
  EXPECT_TRUE(fresh.LoadState({}).ok());  // a checkpoint from before: nothing judged yet
  EXPECT_FALSE(fresh.best_step().has_value());

  extra["validation_best_loss"] = "1.5x";
  EXPECT_EQ(fresh.LoadState(extra).code(), absl::StatusCode::kDataLoss);
  extra["validation_best_loss"] = "inf";
  EXPECT_EQ(fresh.LoadState(extra).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tunefleet
