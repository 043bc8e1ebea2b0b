#include "trainer/data/task_mix.h"

#include <cmath>
#include <set>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TaskMixSampler MakeMix(std::vector<int64_t> sizes, std::vector<double> p, int global, int micro, int world, int rank,
                       uint64_t seed = 7) {
  TaskMixOptions o;
  o.task_sequences = std::move(sizes);
  o.global_batch_size = global;
  o.micro_batch_size = micro;
  o.world_size = world;
  o.rank = rank;
  o.seed = seed;
  auto s = TaskMixSampler::Create(o, std::move(p));
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

TEST(TaskMixTest, StaticProbabilitiesAreTheNormalisedWeights) {
  EXPECT_THAT(InitialMixProbabilities(v1::TASK_MIXING_STRATEGY_STATIC, {1, 3}, {100, 5}, 1),
              ElementsAre(DoubleNear(0.25, 1e-12), DoubleNear(0.75, 1e-12)));
}

TEST(TaskMixTest, TemperatureFollowsTheDocumentedFormula) {
  // p_i = n_i^(1/T) / sum_j n_j^(1/T): T = 1 is proportional to size, T = 2
  // to the square root, a large T tends to uniform.
  EXPECT_THAT(InitialMixProbabilities(v1::TASK_MIXING_STRATEGY_TEMPERATURE, {1, 1}, {100, 900}, 1),
              ElementsAre(DoubleNear(0.1, 1e-12), DoubleNear(0.9, 1e-12)));
  EXPECT_THAT(InitialMixProbabilities(v1::TASK_MIXING_STRATEGY_TEMPERATURE, {1, 1}, {100, 900}, 2),
              ElementsAre(DoubleNear(10.0 / 40, 1e-12), DoubleNear(30.0 / 40, 1e-12)));
  const std::vector<double> flat = InitialMixProbabilities(v1::TASK_MIXING_STRATEGY_TEMPERATURE, {1, 1}, {100, 900}, 100);
  EXPECT_NEAR(flat[0], std::pow(100, 0.01) / (std::pow(100, 0.01) + std::pow(900, 0.01)), 1e-12);
  EXPECT_GT(flat[0], 0.49);
}

TEST(TaskMixTest, RejectsBadMixes) {
  TaskMixOptions o;
  o.task_sequences = {10, 10};
  o.global_batch_size = 4;
  EXPECT_THAT(std::string(TaskMixSampler::Create(o, {0.5}).status().message()), HasSubstr("1 mixing probabilities for 2 tasks"));
  EXPECT_THAT(std::string(TaskMixSampler::Create(o, {0.5, 0.6}).status().message()), HasSubstr("sum to 1.1"));
  o.task_sequences = {10, 0};
  EXPECT_THAT(std::string(TaskMixSampler::Create(o, {0.5, 0.5}).status().message()), HasSubstr("task 1 has no training sequence"));
  o.task_sequences = {10, 10};
  o.micro_batch_size = 3;
  EXPECT_EQ(TaskMixSampler::Create(o, {0.5, 0.5}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TaskMixTest, OrderIsDeterministicAndDependsOnTheSeed) {
  TaskMixSampler a = MakeMix({13, 29}, {0.4, 0.6}, 8, 1, 1, 0);
  TaskMixSampler b = MakeMix({13, 29}, {0.4, 0.6}, 8, 1, 1, 0);
  TaskMixSampler c = MakeMix({13, 29}, {0.4, 0.6}, 8, 1, 1, 0, /*seed=*/8);
  bool differs = false;
  for (int64_t step = 0; step < 20; ++step) {
    const auto batch = a.GlobalBatch(step);
    EXPECT_EQ(batch, b.GlobalBatch(step));
    differs |= !(batch == c.GlobalBatch(step));
  }
  EXPECT_TRUE(differs);
}

TEST(TaskMixTest, EachTaskCyclesThroughAllItsSequencesBeforeRepeating) {
  TaskMixSampler s = MakeMix({5, 40}, {0.5, 0.5}, 10, 1, 1, 0);
  std::vector<std::vector<int64_t>> seen(2);
  for (int64_t step = 0; step < 8; ++step) {
    for (const TaskSequence& ts : s.GlobalBatch(step)) seen[static_cast<size_t>(ts.task)].push_back(ts.sequence);
  }
  ASSERT_GE(seen[0].size(), 10u);
  for (size_t begin = 0; begin + 5 <= seen[0].size(); begin += 5) {
    const std::set<int64_t> epoch(seen[0].begin() + static_cast<long>(begin), seen[0].begin() + static_cast<long>(begin) + 5);
    EXPECT_EQ(epoch.size(), 5u) << "task 0's epoch starting at pick " << begin << " repeats a sequence";
  }
}

TEST(TaskMixTest, ProportionsMatchTheProbabilitiesOverManySteps) {
  TaskMixSampler s = MakeMix({50, 50, 50}, {0.2, 0.3, 0.5}, 16, 1, 1, 0);
  std::vector<double> count(3, 0);
  const int steps = 2000;
  for (int64_t step = 0; step < steps; ++step) {
    for (const TaskSequence& ts : s.GlobalBatch(step)) ++count[static_cast<size_t>(ts.task)];
  }
  // 32000 draws: a binomial's standard deviation is under 0.003 of the total.
  EXPECT_NEAR(count[0] / (16.0 * steps), 0.2, 0.012);
  EXPECT_NEAR(count[1] / (16.0 * steps), 0.3, 0.012);
  EXPECT_NEAR(count[2] / (16.0 * steps), 0.5, 0.012);
}

TEST(TaskMixTest, RanksReadTheirSliceOfTheSameGlobalBatchAtAnyWorldSize) {
  TaskMixSampler one = MakeMix({17, 23}, {0.3, 0.7}, 8, 2, 1, 0);
  TaskMixSampler r0 = MakeMix({17, 23}, {0.3, 0.7}, 8, 2, 2, 0);
  TaskMixSampler r1 = MakeMix({17, 23}, {0.3, 0.7}, 8, 2, 2, 1);
  for (int64_t step = 0; step < 12; ++step) {
    const auto global = one.GlobalBatch(step);
    EXPECT_EQ(global, r0.GlobalBatch(step));
    EXPECT_EQ(global, r1.GlobalBatch(step));
    std::vector<TaskSequence> at_one;
    for (int m = 0; m < one.grad_accum_steps(); ++m) {
      for (const auto& ts : one.MicroBatch(global, m)) at_one.push_back(ts);
    }
    std::vector<TaskSequence> at_two;
    for (const TaskMixSampler* r : {&r0, &r1}) {
      for (int m = 0; m < r->grad_accum_steps(); ++m) {
        for (const auto& ts : r->MicroBatch(global, m)) at_two.push_back(ts);
      }
    }
    EXPECT_EQ(at_one, global);
    EXPECT_EQ(at_two, global);
  }
}

TEST(TaskMixTest, ResumingFromASavedStateAtAnotherWorldSizeGivesTheSameBatches) {
  TaskMixSampler straight = MakeMix({11, 31}, {0.5, 0.5}, 4, 1, 1, 0);
  std::vector<std::vector<TaskSequence>> expected;
  std::string saved;
  for (int64_t step = 0; step < 30; ++step) {
    expected.push_back(straight.GlobalBatch(step));
    if (step == 9) {
      // A dynamic scheme changed the mix at step 10; the checkpoint holds it.
      ASSERT_TRUE(straight.SetProbabilities({0.9, 0.1}).ok());
      saved = straight.state().Serialize();
    }
  }
  auto state = TaskMixState::Parse(saved);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->step, 10);
  EXPECT_THAT(state->probabilities, ElementsAre(0.9, 0.1));
  for (int rank = 0; rank < 2; ++rank) {
    TaskMixSampler resumed = MakeMix({11, 31}, {0.5, 0.5}, 4, 1, 2, rank);
    ASSERT_TRUE(resumed.Restore(*state).ok());
    for (int64_t step = 10; step < 30; ++step) EXPECT_EQ(resumed.GlobalBatch(step), expected[static_cast<size_t>(step)]);
  }
}

TEST(TaskMixTest, AFixedMixReplaysWithoutSavedState) {
  TaskMixSampler straight = MakeMix({11, 31}, {0.25, 0.75}, 4, 1, 1, 0);
  std::vector<TaskSequence> at_20;
  for (int64_t step = 0; step <= 20; ++step) at_20 = straight.GlobalBatch(step);
  TaskMixSampler fresh = MakeMix({11, 31}, {0.25, 0.75}, 4, 1, 1, 0);
  EXPECT_EQ(fresh.GlobalBatch(20), at_20);  // skips ahead, counting picks
  EXPECT_EQ(fresh.state().picks, straight.state().picks);
}

TEST(TaskMixTest, StateParsingRefusesDamage) {
  EXPECT_EQ(TaskMixState::Parse("3;1,2").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(TaskMixState::Parse("3;1,2;0.5").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(TaskMixState::Parse("x;1;1").status().code(), absl::StatusCode::kDataLoss);
  TaskMixSampler s = MakeMix({11, 31}, {0.5, 0.5}, 4, 1, 1, 0);
  auto three = TaskMixState::Parse("3;1,2,3;0.2,0.3,0.5");
  ASSERT_TRUE(three.ok());
  EXPECT_THAT(std::string(s.Restore(*three).message()), HasSubstr("3 tasks; this job has 2"));
}

TEST(TaskMixTest, LossBalancingGivesTheHigherLossTaskMore) {
  // q_i = w_i L_i / sum_j w_j L_j: losses 1 and 3 with equal weights -> 1/4, 3/4.
  EXPECT_THAT(LossBalancedProbabilities({1, 1}, {1.0, 3.0}, 0.1),
              ElementsAre(DoubleNear(0.25, 1e-12), DoubleNear(0.75, 1e-12)));
  // Weights still count: w = (3, 1) with losses (1, 3) -> equal.
  EXPECT_THAT(LossBalancedProbabilities({3, 1}, {1.0, 3.0}, 0.1),
              ElementsAre(DoubleNear(0.5, 1e-12), DoubleNear(0.5, 1e-12)));
}

TEST(TaskMixTest, LossBalancingFloorsStarvedTasks) {
  // Raw: 0.01, 0.495, 0.495; the first is raised to 0.2, the others share 0.8.
  const std::vector<double> p = LossBalancedProbabilities({1, 1, 1}, {0.02, 0.99, 0.99}, 0.2);
  EXPECT_THAT(p, ElementsAre(DoubleNear(0.2, 1e-12), DoubleNear(0.4, 1e-12), DoubleNear(0.4, 1e-12)));
  // A task without a usable loss sits at the floor.
  const std::vector<double> q = LossBalancedProbabilities({1, 1}, {NAN, 2.0}, 0.25);
  EXPECT_THAT(q, ElementsAre(DoubleNear(0.25, 1e-12), DoubleNear(0.75, 1e-12)));
}

TEST(TaskMixTest, LossBalancingShiftsTheDrawnMix) {
  TaskMixSampler s = MakeMix({40, 40}, {0.5, 0.5}, 20, 1, 1, 0);
  ASSERT_TRUE(s.SetProbabilities(LossBalancedProbabilities({1, 1}, {0.5, 2.0}, 0.05)).ok());  // 0.2, 0.8
  double second = 0;
  for (int64_t step = 0; step < 500; ++step) {
    for (const TaskSequence& ts : s.GlobalBatch(step)) second += ts.task == 1;
  }
  EXPECT_NEAR(second / (20.0 * 500), 0.8, 0.02);
}

}  // namespace
}  // namespace tunefleet
