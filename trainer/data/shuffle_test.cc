#include "trainer/data/shuffle.h"

#include <algorithm>
#include <set>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trainer/data/validation_split.h"

namespace tunefleet {
namespace {

using ::testing::ElementsAre;

TEST(ShuffleTest, SplitMix64MatchesTheReferenceSequence) {
  // Vigna's splitmix64.c seeded with 1234567 (as published with xoshiro).
  SplitMix64 rng(1234567);
  EXPECT_EQ(rng.Next(), 6457827717110365317ULL);
  EXPECT_EQ(rng.Next(), 3203168211198807973ULL);
  EXPECT_EQ(rng.Next(), 9817491932198370423ULL);
  EXPECT_EQ(SplitMix64(0).Next(), 0xe220a8397b1dcdafULL);
}

TEST(ShuffleTest, BelowStaysInBoundAndCoversIt) {
  SplitMix64 rng(1);
  std::vector<int> counts(7);
  for (int i = 0; i < 70000; ++i) {
    const uint64_t r = rng.Below(7);
    ASSERT_LT(r, 7u);
    ++counts[r];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(rng.Below(1), 0u);
  EXPECT_LT(rng.Below(~0ULL), ~0ULL);
}

TEST(ShuffleTest, PermutationIsAPermutationAndDeterministic) {
  const std::vector<int64_t> p = RandomPermutation(1000, 42);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_EQ(p, RandomPermutation(1000, 42));
  EXPECT_NE(p, RandomPermutation(1000, 43));
  EXPECT_TRUE(RandomPermutation(0, 1).empty());
  EXPECT_THAT(RandomPermutation(1, 1), ElementsAre(0));
}

TEST(ShuffleTest, PermutationIsFrozenAcrossPlatforms) {
  // Golden values: if this changes, every job's data order changes, and a
  // checkpoint resumed by a newer build would read other batches.
  EXPECT_THAT(RandomPermutation(10, 0), ElementsAre(6, 3, 2, 9, 8, 1, 4, 7, 0, 5));
  EXPECT_EQ(DeriveSeed(0, kSeedPurposeEpochOrder, 1), 4924162058675394372ULL);
}

TEST(ShuffleTest, DerivedSeedsDifferByPurposeAndIndex) {
  std::set<uint64_t> seeds;
  for (uint64_t purpose = 1; purpose <= 3; ++purpose) {
    for (uint64_t index = 0; index < 100; ++index) seeds.insert(DeriveSeed(5, purpose, index));
  }
  EXPECT_EQ(seeds.size(), 300u);
  EXPECT_NE(DeriveSeed(5, 1, 0), DeriveSeed(6, 1, 0));
}

TEST(ValidationSplitTest, DisjointCompleteAndDeterministic) {
  const SplitIndices a = HoldOut(100, 0.1, 7);
  EXPECT_EQ(a.validation.size(), 10u);
  EXPECT_EQ(a.train.size(), 90u);
  std::vector<int64_t> all = a.train;
  all.insert(all.end(), a.validation.begin(), a.validation.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 100; ++i) ASSERT_EQ(all[static_cast<size_t>(i)], i);  // disjoint and complete
  EXPECT_TRUE(std::is_sorted(a.train.begin(), a.train.end()));
  const SplitIndices again = HoldOut(100, 0.1, 7);
  EXPECT_EQ(again.validation, a.validation);
  EXPECT_EQ(again.train, a.train);
  EXPECT_NE(HoldOut(100, 0.1, 8).validation, a.validation);
}

TEST(ValidationSplitTest, SmallDatasetsKeepBothSides) {
  EXPECT_EQ(HoldOut(3, 0.01, 1).validation.size(), 1u);  // at least one held out
  EXPECT_EQ(HoldOut(2, 0.5, 1).train.size(), 1u);        // at least one kept
  EXPECT_TRUE(HoldOut(1, 0.5, 1).validation.empty());
  EXPECT_TRUE(HoldOut(50, 0, 1).validation.empty());
  EXPECT_EQ(HoldOut(50, 0, 1).train.size(), 50u);
}

}  // namespace
}  // namespace tunefleet
