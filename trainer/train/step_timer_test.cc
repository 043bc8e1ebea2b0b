#include "trainer/train/step_timer.h"

#include <gtest/gtest.h>

namespace tunefleet {
namespace {

// A clock and a blocked-seconds counter the test moves by hand.
struct FakeTime {
  double now = 100;
  double blocked = 7;
  StepTimer Timer() {
    return StepTimer([this] { return now; }, [this] { return blocked; });
  }
};

TEST(StepTimerTest, PhasesAddUpToTheWallTime) {
  FakeTime t;
  StepTimer timer = t.Timer();
  timer.Start();
  t.now += 0.5;  // other (e.g. reporting)
  timer.BeginData();
  t.now += 1;
  timer.EndData();
  timer.BeginCompute();
  t.now += 3;
  timer.EndCompute();
  t.now += 0.25;  // the checkpointer's poll: other
  timer.BeginCompute();  // the loss read-back
  t.now += 0.5;
  timer.EndCompute();
  t.now += 2;  // the agreement collective
  t.blocked += 2;
  const StepTimes times = timer.EndStep();
  EXPECT_DOUBLE_EQ(times.wall, 7.25);
  EXPECT_DOUBLE_EQ(times.data, 1);
  EXPECT_DOUBLE_EQ(times.compute, 3.5);
  EXPECT_DOUBLE_EQ(times.comm, 2);
  EXPECT_DOUBLE_EQ(times.other, 0.75);
  EXPECT_DOUBLE_EQ(times.data + times.compute + times.comm + times.other, times.wall);
}

TEST(StepTimerTest, ABlockedWaitInsideComputeCountsAsCommunicationOnce) {
  FakeTime t;
  StepTimer timer = t.Timer();
  timer.Start();
  timer.BeginCompute();
  t.now += 4;
  t.blocked += 1.5;  // the bucket waits after backward, within TrainStep
  timer.EndCompute();
  const StepTimes times = timer.EndStep();
  EXPECT_DOUBLE_EQ(times.compute, 2.5);
  EXPECT_DOUBLE_EQ(times.comm, 1.5);
  EXPECT_DOUBLE_EQ(times.other, 0);
  EXPECT_DOUBLE_EQ(times.wall, 4);
}

TEST(StepTimerTest, EachStepStartsWhereThePreviousWasReported) {
  FakeTime t;
  StepTimer timer = t.Timer();
  timer.Start();
  timer.BeginData();
  t.now += 1;
  timer.EndData();
  timer.EndStep();
  t.now += 5;  // the previous step's evaluation and checkpoint save
  t.blocked += 0.5;  // their collectives
  timer.BeginCompute();
  t.now += 2;
  timer.EndCompute();
  const StepTimes second = timer.EndStep();
  EXPECT_DOUBLE_EQ(second.wall, 7);
  EXPECT_DOUBLE_EQ(second.data, 0);  // not carried over
  EXPECT_DOUBLE_EQ(second.compute, 2);
  EXPECT_DOUBLE_EQ(second.comm, 0.5);
  EXPECT_DOUBLE_EQ(second.other, 4.5);
}

}  // namespace
}  // namespace tunefleet
