#include "trainer/checkpoint/retention.h"

#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trainer/checkpoint/checkpoint_core_test_util.h"

namespace tunefleet {
namespace {

using ::testing::ElementsAre;
using testing::FlipByte;
using testing::ScopedTestRoot;
using testing::WriteRawCheckpoint;

bool Exists(const CheckpointRoot& root, int64_t step) {
  return std::filesystem::exists(root.StepDirectory(step));
}

TEST(RetentionTest, KeepsTheNewestK) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  for (int64_t step : {10, 20, 30, 40, 50}) ASSERT_TRUE(WriteRawCheckpoint(root, step).ok());
  absl::StatusOr<RetentionReport> report = ApplyRetention(root, 2);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->resume_step, 50);
  EXPECT_THAT(report->kept, ElementsAre(50, 40));
  EXPECT_EQ(report->deleted.size(), 3u);
  for (int64_t step : {10, 20, 30}) EXPECT_FALSE(Exists(root, step)) << step;
  for (int64_t step : {40, 50}) EXPECT_TRUE(Exists(root, step)) << step;
}

TEST(RetentionTest, KeepsTheStepItIsAskedToKeep) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  for (int64_t step : {10, 20, 30, 40}) ASSERT_TRUE(WriteRawCheckpoint(root, step).ok());
  absl::StatusOr<RetentionReport> report = ApplyRetention(root, 1, {}, /*also_keep=*/20);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->kept, ElementsAre(40, 20));
  for (int64_t step : {10, 30}) EXPECT_FALSE(Exists(root, step)) << step;
}

TEST(RetentionTest, NeverDeletesTheCheckpointAJobWouldResumeFrom) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  for (int64_t step : {10, 20, 30}) ASSERT_TRUE(WriteRawCheckpoint(root, step).ok());
  FlipByte(root.StepDirectory(30) + "/data-rank-0.bin", 1);
  FlipByte(root.StepDirectory(20) + "/data-rank-1.bin", 1);
  absl::StatusOr<RetentionReport> report = ApplyRetention(root, 1, [](const std::string&) {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->resume_step, 10);
  EXPECT_THAT(report->kept, ElementsAre(30, 10));
  EXPECT_TRUE(Exists(root, 10));
  EXPECT_FALSE(Exists(root, 20));
  EXPECT_TRUE(Exists(root, 30));
}

TEST(RetentionTest, RemovesOnlyUncommittedFoldersOlderThanTheNewestCommit) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  std::filesystem::create_directories(root.StepDirectory(5));   // a killed save, before
  ASSERT_TRUE(WriteRawCheckpoint(root, 10).ok());
  std::filesystem::create_directories(root.StepDirectory(15));  // a killed save, after
  ASSERT_TRUE(WriteRawCheckpoint(root, 20).ok());
  std::filesystem::create_directories(root.StepDirectory(25));  // perhaps still being written
  absl::StatusOr<RetentionReport> report = ApplyRetention(root, 5);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(Exists(root, 5));
  EXPECT_FALSE(Exists(root, 15));
  EXPECT_TRUE(Exists(root, 10));
  EXPECT_TRUE(Exists(root, 20));
  EXPECT_TRUE(Exists(root, 25));
}

TEST(RetentionTest, KeepLastMustBePositive) {
  ScopedTestRoot tmp;
  EXPECT_EQ(ApplyRetention(tmp.Job(), 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RetentionTest, AnEmptyJobIsFine) {
  ScopedTestRoot tmp;
  absl::StatusOr<RetentionReport> report = ApplyRetention(tmp.Job(), 3);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->resume_step.has_value());
  EXPECT_TRUE(report->deleted.empty());
}

}  // namespace
}  // namespace tunefleet
