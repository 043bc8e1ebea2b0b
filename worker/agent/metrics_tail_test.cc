#include "worker/agent/metrics_tail.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace tunefleet::worker {
namespace {

TEST(MetricsTail, ParsesEventsAndWaitsForCompleteLines) {
  const std::string path = ::testing::TempDir() + "/metrics_tail_test.jsonl";
  std::remove(path.c_str());
  MetricsTail tail(path);
  EXPECT_TRUE(tail.Poll().empty());  // no file yet
  std::ofstream out(path);
  out << R"({"event":"step","time":1732400000.5,"rank":0,"step":12,"total_steps":100,"train_loss":2.5,)"
      << R"("tokens_per_second":900})" << "\n"
      << "not json\n"
      << R"({"event":"checkpoint","step":12,"path":"/c/step-12","committed":true,"save_seconds":0.4})" << "\n"
      << R"({"event":"eval","step":1)" << std::flush;  // partial
  auto samples = tail.Poll();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].event(), "step");
  EXPECT_EQ(samples[0].step(), 12);
  EXPECT_DOUBLE_EQ(samples[0].values().at("train_loss"), 2.5);
  EXPECT_DOUBLE_EQ(samples[0].values().at("total_steps"), 100);
  EXPECT_EQ(samples[0].time().seconds(), 1732400000);
  EXPECT_EQ(samples[1].event(), "checkpoint");
  EXPECT_EQ(samples[1].text().at("path"), "/c/step-12");
  EXPECT_EQ(samples[1].text().at("committed"), "true");
  EXPECT_DOUBLE_EQ(tail.train_loss(), 2.5);
  out << R"(5,"eval_loss":2.1})" << "\n" << std::flush;
  samples = tail.Poll();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].step(), 15);
  EXPECT_EQ(tail.step(), 15);
}

}  // namespace
}  // namespace tunefleet::worker
