// MetricHistory's bounds: by count and bytes per job, by bytes across jobs,
// thinning older points so a long run is still spanned, and readers' cursors
// across a thinning.

#include "coordinator/metrics/metric_history.h"

#include <gtest/gtest.h>

namespace tunefleet::coordinator {
namespace {

v1::MetricSample Sample(int64_t step, size_t padding = 0) {
  v1::MetricSample sample;
  sample.set_step(step);
  (*sample.mutable_values())["train_loss"] = 1.0 / static_cast<double>(step + 1);
  if (padding > 0) (*sample.mutable_text())["pad"] = std::string(padding, 'x');
  return sample;
}

std::vector<int64_t> Steps(const MetricHistory& history, const std::string& job) {
  int64_t cursor = 0;
  std::vector<int64_t> steps;
  for (const auto& sample : history.Read(job, &cursor, -1)) steps.push_back(sample.step());
  return steps;
}

TEST(MetricHistoryTest, PastItsCountAJobKeepsEvenlySpacedPointsFromTheWholeRun) {
  MetricHistory history(MetricHistoryLimits{100, 1 << 30, 1 << 30});
  for (int64_t step = 1; step <= 10'000; ++step) history.Add("jobs/a", Sample(step));
  const std::vector<int64_t> steps = Steps(history, "jobs/a");
  ASSERT_LE(steps.size(), 100u);
  ASSERT_GE(steps.size(), 50u);
  EXPECT_EQ(steps.front(), 1) << "the run's start is kept";
  EXPECT_EQ(steps.back(), 10'000) << "and its newest point";
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end()));
  // Spread over the run, not bunched at either end: each tenth holds about a tenth.
  for (int64_t tenth = 0; tenth < 10; ++tenth) {
    const auto in_tenth = std::count_if(steps.begin(), steps.end(),
                                        [&](int64_t s) { return s > tenth * 1000 && s <= (tenth + 1) * 1000; });
    EXPECT_GE(in_tenth, 4) << "steps " << tenth * 1000 << ".." << (tenth + 1) * 1000;
    EXPECT_LE(in_tenth, 10) << "steps " << tenth * 1000 << ".." << (tenth + 1) * 1000;
  }
}

TEST(MetricHistoryTest, AJobsBytesStayUnderItsBudget) {
  const size_t budget = 256 * 1024;
  MetricHistory history(MetricHistoryLimits{1'000'000, budget, 1 << 30});
  for (int64_t step = 1; step <= 2'000; ++step) history.Add("jobs/a", Sample(step, 4000));
  EXPECT_LE(history.bytes(), budget);
  EXPECT_GT(history.bytes(), budget / 4) << "thinning halves the samples, no more";
  EXPECT_EQ(Steps(history, "jobs/a").front(), 1);
}

TEST(MetricHistoryTest, PastTheGlobalBudgetTheLargestHistoryIsThinnedFirst) {
  const size_t total = 512 * 1024;
  MetricHistory history(MetricHistoryLimits{1'000'000, 1 << 30, total});
  for (int64_t step = 1; step <= 20; ++step) history.Add("jobs/quiet", Sample(step));
  const size_t quiet = history.samples("jobs/quiet");
  for (int64_t step = 1; step <= 5'000; ++step) history.Add("jobs/flood", Sample(step, 4000));
  EXPECT_LE(history.bytes(), total);
  EXPECT_EQ(history.samples("jobs/quiet"), quiet) << "the small job lost nothing to the flood";
  history.Forget("jobs/flood");
  EXPECT_LT(history.bytes(), total / 10);
}

TEST(MetricHistoryTest, AReaderCursorSurvivesThinning) {
  MetricHistory history(MetricHistoryLimits{10, 1 << 30, 1 << 30});
  int64_t cursor = 0;
  for (int64_t step = 1; step <= 5; ++step) history.Add("jobs/a", Sample(step));
  EXPECT_EQ(history.Read("jobs/a", &cursor, -1).size(), 5u);
  for (int64_t step = 6; step <= 50; ++step) history.Add("jobs/a", Sample(step));
  const auto next = history.Read("jobs/a", &cursor, -1);
  ASSERT_FALSE(next.empty());
  EXPECT_GT(next.front().step(), 5) << "nothing read twice";
  EXPECT_EQ(next.back().step(), 50);
  EXPECT_TRUE(history.Read("jobs/a", &cursor, -1).empty());
}

}  // namespace
}  // namespace tunefleet::coordinator
