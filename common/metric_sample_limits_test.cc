#include "common/metric_sample_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet::metric_sample_limits {
namespace {

using ::testing::HasSubstr;

v1::MetricSample Real() {
  v1::MetricSample sample;
  sample.set_job("jobs/a");
  sample.set_event("checkpoint");
  (*sample.mutable_values())["save_seconds"] = 1.5;
  (*sample.mutable_text())["path"] = "/data/checkpoints/" + std::string(4000, 'p');  // near PATH_MAX
  return sample;
}

TEST(MetricSampleLimitsTest, ARealSampleWithALongPathPasses) { EXPECT_TRUE(CheckSample(Real()).ok()); }

TEST(MetricSampleLimitsTest, EachLimitIsNamedWhenPassed) {
  auto expect = [](const v1::MetricSample& sample, const std::string& limit) {
    const absl::Status status = CheckSample(sample);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << limit;
    EXPECT_THAT(status.message(), HasSubstr(limit));
  };
  v1::MetricSample big = Real();
  (*big.mutable_text())["a"] = std::string(kMaxTextBytes, 'a');
  (*big.mutable_text())["b"] = std::string(kMaxTextBytes, 'b');
  expect(big, "kMaxSampleBytes");
  v1::MetricSample wide = Real();
  for (int i = 0; i < kMaxEntries; ++i) (*wide.mutable_values())["k" + std::to_string(i)] = i;
  expect(wide, "kMaxEntries");
  v1::MetricSample key = Real();
  (*key.mutable_values())[std::string(kMaxKeyBytes + 1, 'k')] = 1;
  expect(key, "kMaxKeyBytes");
  v1::MetricSample text = Real();
  (*text.mutable_text())["path"] = std::string(kMaxTextBytes + 1, 't');
  expect(text, "kMaxTextBytes");
  v1::MetricSample event = Real();
  event.set_event(std::string(kMaxEventBytes + 1, 'e'));
  expect(event, "kMaxEventBytes");
}

}  // namespace
}  // namespace tunefleet::metric_sample_limits
