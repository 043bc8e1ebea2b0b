#include "worker/agent/metrics_tail.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "common/metric_keys.h"

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
  EXPECT_DOUBLE_EQ(tail.progress().train_loss, 2.5);
  out << R"(5,"eval_loss":2.1})" << "\n" << std::flush;
  samples = tail.Poll();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].step(), 15);
  EXPECT_EQ(tail.step(), 15);
}

// A step's time by phase and its overlap reach the coordinator as the
// trainer wrote them (coordinator/metrics/step_time.h reads them there).
TEST(MetricsTail, PassesAStepsTimeSplitOn) {
  const std::string path = ::testing::TempDir() + "/metrics_tail_step_time.jsonl";
  std::remove(path.c_str());
  MetricsTail tail(path);
  std::ofstream out(path);
  out << R"({"event":"step","time":1.5,"rank":0,"step":3,"train_loss":3.0,"step_compute_seconds":1.25,)"
      << R"("step_comm_seconds":0.5,"step_data_seconds":0.125,"step_other_seconds":0.0625,"step_comm_overlap":0.75})"
      << "\n" << std::flush;
  const auto samples = tail.Poll();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_DOUBLE_EQ(samples[0].values().at(metric_keys::kStepComputeSeconds), 1.25);
  EXPECT_DOUBLE_EQ(samples[0].values().at(metric_keys::kStepCommSeconds), 0.5);
  EXPECT_DOUBLE_EQ(samples[0].values().at(metric_keys::kStepDataSeconds), 0.125);
  EXPECT_DOUBLE_EQ(samples[0].values().at(metric_keys::kStepOtherSeconds), 0.0625);
  EXPECT_DOUBLE_EQ(samples[0].values().at(metric_keys::kStepCommOverlap), 0.75);
}

// The lines the real trainer writes (training_run.cc, run_checkpointer.cc)
// become the newest figure of each kind; absent until first reported.
TEST(MetricsTail, KeepsTheNewestFigureOfEachKind) {
  const std::string path = ::testing::TempDir() + "/metrics_tail_figures.jsonl";
  std::remove(path.c_str());
  MetricsTail tail(path);
  std::ofstream out(path);
  out << R"({"event":"step","time":1.5,"rank":0,"step":1,"train_loss":3.0,"learning_rate":0.0001,)"
      << R"("grad_norm":0.8,"tokens_per_second":5120,"total_steps":10})" << "\n" << std::flush;
  tail.Poll();
  RankProgress p = tail.progress();
  EXPECT_EQ(p.step, 1);
  EXPECT_DOUBLE_EQ(p.train_loss, 3.0);
  EXPECT_DOUBLE_EQ(p.tokens_per_second, 5120);
  EXPECT_DOUBLE_EQ(p.learning_rate.value_or(-1), 0.0001);
  EXPECT_DOUBLE_EQ(p.grad_norm.value_or(-1), 0.8);
  EXPECT_FALSE(p.eval_loss.has_value());
  EXPECT_FALSE(p.checkpoint_save_seconds.has_value());
  EXPECT_FALSE(p.checkpoint_bytes.has_value());
  EXPECT_FALSE(p.checkpoint_stall_seconds.has_value());

  out << R"({"event":"eval","time":2,"rank":0,"step":2,"eval_loss":2.75})" << "\n"
      << R"({"event":"checkpoint","time":2.5,"rank":0,"step":2,"stall_seconds":0.01,"save_seconds":0.4,)"
      << R"("bytes":123456,"committed":1,"path":"/c/step-2"})" << "\n"
      // A step line without the optional fields keeps what an earlier one said.
      << R"({"event":"step","time":3,"rank":0,"step":3,"train_loss":2.5,"tokens_per_second":5000})" << "\n"
      << R"({"event":"checkpoint","time":4,"rank":0,"step":3,"stall_seconds":0.02,"save_seconds":0.5,)"
      << R"("bytes":654321,"committed":1,"path":"/c/step-3"})" << "\n" << std::flush;
  tail.Poll();
  p = tail.progress();
  EXPECT_EQ(p.step, 3);
  EXPECT_DOUBLE_EQ(p.train_loss, 2.5);
  EXPECT_DOUBLE_EQ(p.learning_rate.value_or(-1), 0.0001);
  EXPECT_DOUBLE_EQ(p.eval_loss.value_or(-1), 2.75);
  EXPECT_DOUBLE_EQ(p.checkpoint_save_seconds.value_or(-1), 0.5);
  EXPECT_DOUBLE_EQ(p.checkpoint_bytes.value_or(-1), 654321);
  EXPECT_DOUBLE_EQ(p.checkpoint_stall_seconds.value_or(-1), 0.02);
}

// A time that no cast to int64 microseconds holds (1e300, negative) is
// dropped before the cast, and the sample is stamped on arrival instead.
TEST(MetricsTail, TimeOutsideInt64IsReplacedNotCast) {
  const std::string path = ::testing::TempDir() + "/metrics_tail_huge_time.jsonl";
  std::remove(path.c_str());
  MetricsTail tail(path);
  std::ofstream out(path);
  out << R"({"event":"step","time":1e300,"step":1,"total_steps":10})" << "\n"
      << R"({"event":"step","time":-1e300,"step":2})" << "\n" << std::flush;
  const auto samples = tail.Poll();
  ASSERT_EQ(samples.size(), 2u);
  for (const auto& sample : samples) EXPECT_GT(sample.time().seconds(), 1'600'000'000);
}

}  // namespace
}  // namespace tunefleet::worker
