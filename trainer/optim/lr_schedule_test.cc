#include "trainer/optim/lr_schedule.h"

#include <cmath>

#include <gtest/gtest.h>

namespace tunefleet {
namespace {

TEST(LrSchedule, WarmupThenCosineToMinimum) {
  LrSchedule s{1.0, 4, 14, 0.1, v1::LR_SCHEDULE_COSINE};
  EXPECT_DOUBLE_EQ(s.At(0), 0.25);
  EXPECT_DOUBLE_EQ(s.At(3), 1.0);
  EXPECT_DOUBLE_EQ(s.At(4), 1.0);                               // decay starts at peak
  EXPECT_NEAR(s.At(9), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.5)), 1e-12);
  EXPECT_NEAR(s.At(14), 0.1, 1e-12);                            // ends at min
  EXPECT_NEAR(s.At(100), 0.1, 1e-12);                           // and stays
}

TEST(LrSchedule, LinearAndConstant) {
  LrSchedule linear{2.0, 0, 10, 0.0, v1::LR_SCHEDULE_LINEAR};
  EXPECT_DOUBLE_EQ(linear.At(0), 2.0);
  EXPECT_DOUBLE_EQ(linear.At(5), 1.0);
  LrSchedule constant{3.0, 2, 10, 0.0, v1::LR_SCHEDULE_CONSTANT};
  EXPECT_DOUBLE_EQ(constant.At(0), 1.5);
  EXPECT_DOUBLE_EQ(constant.At(9), 3.0);
}

}  // namespace
}  // namespace tunefleet
