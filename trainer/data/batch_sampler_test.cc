#include "trainer/data/batch_sampler.h"

#include <algorithm>
#include <limits>
#include <set>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

BatchSampler MakeSampler(int64_t n, int global, int micro, int world, int rank, uint64_t seed = 3) {
  SamplerOptions o;
  o.num_sequences = n;
  o.global_batch_size = global;
  o.micro_batch_size = micro;
  o.world_size = world;
  o.rank = rank;
  o.seed = seed;
  auto s = BatchSampler::Create(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

TEST(BatchSamplerTest, RejectsBadShapes) {
  SamplerOptions o;
  o.num_sequences = 100;
  o.global_batch_size = 10;
  o.micro_batch_size = 2;
  o.world_size = 3;  // 10 is not a multiple of 6
  EXPECT_THAT(std::string(BatchSampler::Create(o).status().message()), HasSubstr("multiple of micro_batch_size * world_size = 6"));
  o.world_size = 5;
  o.rank = 5;
  EXPECT_EQ(BatchSampler::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.rank = 0;
  o.num_sequences = 9;
  EXPECT_EQ(BatchSampler::Create(o).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(BatchSamplerTest, EpochDropsTheLastPartialBatchAndCoversTheRestOnce) {
  const BatchSampler s = MakeSampler(/*n=*/50, /*global=*/12, /*micro=*/2, /*world=*/1, /*rank=*/0);
  EXPECT_EQ(s.steps_per_epoch(), 4);  // 48 of 50 sequences, 2 dropped
  EXPECT_EQ(s.grad_accum_steps(), 6);
  std::set<int64_t> seen;
  for (int64_t step = 0; step < s.steps_per_epoch(); ++step) {
    for (int64_t i : s.GlobalBatch({0, step})) {
      EXPECT_TRUE(seen.insert(i).second) << "sequence " << i << " twice in one epoch";
      EXPECT_LT(i, 50);
    }
  }
  EXPECT_EQ(seen.size(), 48u);
}

TEST(BatchSamplerTest, ShufflingIsDeterministicAndDiffersBySeedAndEpoch) {
  const BatchSampler a = MakeSampler(100, 10, 1, 1, 0, /*seed=*/1);
  const BatchSampler b = MakeSampler(100, 10, 1, 1, 0, /*seed=*/1);
  const BatchSampler c = MakeSampler(100, 10, 1, 1, 0, /*seed=*/2);
  EXPECT_EQ(a.GlobalBatch({0, 0}), b.GlobalBatch({0, 0}));
  EXPECT_EQ(a.GlobalBatch({3, 7}), b.GlobalBatch({3, 7}));
  EXPECT_NE(a.GlobalBatch({0, 0}), c.GlobalBatch({0, 0}));
  EXPECT_NE(a.GlobalBatch({0, 0}), a.GlobalBatch({1, 0}));
  // Reading out of order (the cache switching epochs) changes nothing.
  const auto e1 = a.GlobalBatch({1, 2});
  (void)a.GlobalBatch({0, 5});
  EXPECT_EQ(a.GlobalBatch({1, 2}), e1);
}

TEST(BatchSamplerTest, RankSlicesConcatenateToTheSameGlobalBatchAtEveryWorldSize) {
  const int global = 12;
  const int micro = 2;
  const BatchSampler one = MakeSampler(100, global, micro, 1, 0);
  for (int world : {1, 2, 3}) {
    std::vector<BatchSampler> ranks;
    for (int r = 0; r < world; ++r) ranks.push_back(MakeSampler(100, global, micro, world, r));
    EXPECT_EQ(ranks[0].grad_accum_steps(), global / (micro * world));
    for (DataPosition pos : {DataPosition{0, 0}, DataPosition{0, 7}, DataPosition{2, 3}}) {
      std::vector<int64_t> joined;
      for (const BatchSampler& s : ranks) {
        for (int m = 0; m < s.grad_accum_steps(); ++m) {
          const std::vector<int64_t> mb = s.MicroBatchIndices(pos, m);
          ASSERT_EQ(mb.size(), static_cast<size_t>(micro));
          joined.insert(joined.end(), mb.begin(), mb.end());
        }
      }
      EXPECT_EQ(joined, one.GlobalBatch(pos)) << "world " << world;
    }
  }
}

TEST(BatchSamplerTest, PositionsAdvanceAcrossEpochs) {
  const BatchSampler s = MakeSampler(30, 10, 1, 1, 0);
  DataPosition p;
  for (int64_t step = 0; step < 7; ++step) {
    EXPECT_EQ(p, s.PositionOfStep(step));
    p = s.Next(p);
  }
  EXPECT_EQ(p, (DataPosition{2, 1}));
}

TEST(BatchSamplerTest, CheckPositionRejectsPositionsOutsideTheEpoch) {
  const BatchSampler s = MakeSampler(30, 10, 1, 1, 0);
  EXPECT_TRUE(s.CheckPosition({5, 2}).ok());
  EXPECT_EQ(s.CheckPosition({0, 3}).code(), absl::StatusCode::kOutOfRange);
  EXPECT_FALSE(s.CheckPosition({-1, 0}).ok());
}

TEST(BatchSamplerTest, TotalTrainingSteps) {
  EXPECT_EQ(*TotalTrainingSteps(/*max_steps=*/100, /*epochs=*/3, /*steps_per_epoch=*/10), 100);
  EXPECT_EQ(*TotalTrainingSteps(0, 3, 10), 30);
  EXPECT_EQ(*TotalTrainingSteps(0, 0, 10), 10);   // epochs default to 1
  EXPECT_EQ(*TotalTrainingSteps(0, 1.25, 10), 13);  // rounded up
  EXPECT_EQ(*TotalTrainingSteps(0, 0.1, 30), 3);    // not 4 from 3.0000000000000004
  EXPECT_FALSE(TotalTrainingSteps(-1, 0, 10).ok());
  EXPECT_FALSE(TotalTrainingSteps(0, 1, 0).ok());
  // Past int64 (undefined as a cast) or the step limit: refused, not cast.
  EXPECT_FALSE(TotalTrainingSteps(0, 1e300, 10).ok());
  EXPECT_FALSE(TotalTrainingSteps(0, 1e6, 1000000).ok());
  EXPECT_FALSE(TotalTrainingSteps(0, std::numeric_limits<double>::quiet_NaN(), 10).ok());
}

TEST(EvalMicroBatchesTest, RanksCoverEverySequenceOnceInOrder) {
  for (int world : {1, 2, 3, 4}) {
    std::vector<int64_t> joined;
    for (int r = 0; r < world; ++r) {
      for (const auto& b : EvalMicroBatches(10, 3, r, world)) {
        EXPECT_LE(b.size(), 3u);
        EXPECT_FALSE(b.empty());
        joined.insert(joined.end(), b.begin(), b.end());
      }
    }
    std::vector<int64_t> expected(10);
    for (int i = 0; i < 10; ++i) expected[static_cast<size_t>(i)] = i;
    EXPECT_EQ(joined, expected) << "world " << world;
  }
}

TEST(EvalMicroBatchesTest, MaxBatchesTakesTheSameFirstSequencesAtEveryWorldSize) {
  for (int world : {1, 2, 3}) {
    std::vector<int64_t> joined;
    for (int r = 0; r < world; ++r) {
      for (const auto& b : EvalMicroBatches(100, 4, r, world, /*max_batches=*/3)) {
        joined.insert(joined.end(), b.begin(), b.end());
      }
    }
    std::vector<int64_t> expected(12);
    for (int i = 0; i < 12; ++i) expected[static_cast<size_t>(i)] = i;
    EXPECT_EQ(joined, expected) << "world " << world;
  }
  // A cap above the set's size changes nothing; a negative one is refused.
  EXPECT_EQ(EvalMicroBatches(10, 4, 0, 1, 50).size(), 3u);
  EXPECT_TRUE(EvalMicroBatches(10, 4, 0, 1, -1).empty());
}

}  // namespace
}  // namespace tunefleet
