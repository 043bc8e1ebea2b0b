#include "trainer/eval/paired_comparison.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace tunefleet {
namespace {

TEST(ComparePaired, EqualModelsDifferByNothingWithCertainty) {
  const std::vector<double> scores = {1, 0, 1, 1, 0, 0, 1};
  auto d = ComparePaired(scores, scores);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->n, 7);
  EXPECT_DOUBLE_EQ(d->difference, 0);
  EXPECT_DOUBLE_EQ(d->ci_low, 0);
  EXPECT_DOUBLE_EQ(d->ci_high, 0);
}

TEST(ComparePaired, AConstantShiftIsFoundExactlyThoughEachScoreVaries) {
  // Pairing at work: the scores vary widely, their differences not at all.
  std::vector<double> base, cand;
  for (int i = 0; i < 50; ++i) {
    base.push_back(std::sin(i) * 10);
    cand.push_back(std::sin(i) * 10 + 0.25);
  }
  auto d = ComparePaired(base, cand);
  ASSERT_TRUE(d.ok());
  EXPECT_NEAR(d->difference, 0.25, 1e-12);
  EXPECT_NEAR(d->ci_low, 0.25, 1e-12);
  EXPECT_NEAR(d->ci_high, 0.25, 1e-12);
}

TEST(ComparePaired, TheIntervalMatchesTheNormalApproximationForManyExamples) {
  // 2,000 exact-match outcomes, the candidate right 60% of the time where
  // the baseline is wrong 50%: the bootstrap's 95% interval should be close
  // to mean +- 1.96 sd / sqrt(n) of the differences.
  std::mt19937_64 random(7);
  std::bernoulli_distribution base_right(0.5), cand_right(0.6);
  std::vector<double> base, cand;
  for (int i = 0; i < 2000; ++i) {
    base.push_back(base_right(random) ? 1 : 0);
    cand.push_back(cand_right(random) ? 1 : 0);
  }
  BootstrapOptions options;
  options.resamples = 4000;
  options.seed = 3;
  auto d = ComparePaired(base, cand, options);
  ASSERT_TRUE(d.ok());
  double mean = 0, squares = 0;
  for (size_t i = 0; i < base.size(); ++i) mean += cand[i] - base[i];
  mean /= static_cast<double>(base.size());
  for (size_t i = 0; i < base.size(); ++i) squares += std::pow(cand[i] - base[i] - mean, 2);
  const double half = 1.96 * std::sqrt(squares / static_cast<double>(base.size() - 1)) / std::sqrt(2000.0);
  EXPECT_NEAR(d->difference, mean, 1e-12);
  EXPECT_NEAR(d->ci_low, mean - half, 0.15 * half);
  EXPECT_NEAR(d->ci_high, mean + half, 0.15 * half);
  EXPECT_LT(d->ci_low, d->difference);
  EXPECT_GT(d->ci_high, d->difference);
  // Reproducible: the same seed, the same interval.
  auto again = ComparePaired(base, cand, options);
  EXPECT_EQ(again->ci_low, d->ci_low);
}

TEST(ComparePaired, BadInputIsNamed) {
  EXPECT_FALSE(ComparePaired({1, 2}, {1}).ok());
  EXPECT_FALSE(ComparePaired({}, {}).ok());
  EXPECT_FALSE(ComparePaired({1, NAN}, {1, 2}).ok());
  BootstrapOptions few;
  few.resamples = 5;
  EXPECT_FALSE(ComparePaired({1}, {1}, few).ok());
  BootstrapOptions certain;
  certain.confidence = 1.0;
  EXPECT_FALSE(ComparePaired({1}, {1}, certain).ok());
}

}  // namespace
}  // namespace tunefleet
