// The commit protocol and discovery, on raw files (no tensors needed).

#include "trainer/checkpoint/commit.h"

#include <filesystem>
#include <future>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "trainer/checkpoint/checkpoint_core_test_util.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/discovery.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing::FlipByte;
using testing::ScopedTestRoot;
using testing::TruncateFile;
using testing::WriteRawCheckpoint;

// Rank `rank` writes its file and record for `step`.
void WriteRank(const CheckpointRoot& root, int64_t step, int rank, int world_size, const std::string& save_id) {
  const std::string dir = root.StepDirectory(step);
  std::filesystem::create_directories(dir);
  absl::StatusOr<FileRecord> file = WriteFileWithChecksum(dir, absl::StrCat("rank-", rank, ".bin"), "payload");
  ASSERT_TRUE(file.ok()) << file.status();
  RankFilesRecord record{rank, world_size, step, save_id, {*file}, std::nullopt};
  ASSERT_TRUE(PublishRankFiles(dir, record).ok());
}

CommitRequest Request(int64_t step, int world_size, const std::string& save_id) {
  CommitRequest r;
  r.step = step;
  r.world_size = world_size;
  r.save_id = save_id;
  return r;
}

bool HasManifest(const CheckpointRoot& root, int64_t step) {
  return std::filesystem::exists(std::filesystem::path(root.StepDirectory(step)) / kManifestFileName);
}

TEST(CommitTest, CommitsOnlyWhenEveryRankIsDone) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  WriteRank(root, 10, 0, 2, "a");
  absl::StatusOr<Manifest> early = CommitManifest(root, Request(10, 2, "a"));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.status().message(), HasSubstr("rank 1"));
  EXPECT_FALSE(HasManifest(root, 10));

  WriteRank(root, 10, 1, 2, "a");
  absl::StatusOr<Manifest> manifest = CommitManifest(root, Request(10, 2, "a"));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->files.size(), 2u);
  EXPECT_EQ(manifest->job, "job");
  EXPECT_TRUE(HasManifest(root, 10));
  EXPECT_FALSE(std::filesystem::exists(root.StepDirectory(10) + "/manifest.json.tmp"));
}

TEST(CommitTest, TheManifestRecordsWhatMadeTheWeights) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  WriteRank(root, 5, 0, 1, "a");
  CommitRequest request = Request(5, 1, "a");
  request.lineage = Lineage{"0.1.0", std::string(64, 'c'), {{"dataset", "/d.jsonl", 9, std::string(64, 'd')}}};
  ASSERT_TRUE(CommitManifest(root, request).ok());
  absl::StatusOr<Manifest> read = ReadManifest(root.StepDirectory(5));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->lineage.has_value());
  EXPECT_EQ(read->lineage->inputs.at(0).path, "/d.jsonl");
}

TEST(CommitTest, ARecordFromAnotherSaveDoesNotCount) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  WriteRank(root, 10, 0, 2, "attempt-1");
  WriteRank(root, 10, 1, 2, "attempt-0");  // left by a killed earlier attempt
  absl::StatusOr<Manifest> manifest = CommitManifest(root, Request(10, 2, "attempt-1"));
  ASSERT_FALSE(manifest.ok());
  EXPECT_THAT(manifest.status().message(), HasSubstr("another save"));
  EXPECT_FALSE(HasManifest(root, 10));
}

TEST(CommitTest, WaitsForALateRankOnStorage) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  WriteRank(root, 10, 0, 2, "a");
  CommitRequest request = Request(10, 2, "a");
  request.wait_for_ranks = std::chrono::seconds(30);
  std::future<absl::StatusOr<Manifest>> commit =
      std::async(std::launch::async, [&] { return CommitManifest(root, request); });
  WriteRank(root, 10, 1, 2, "a");
  absl::StatusOr<Manifest> manifest = commit.get();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_TRUE(HasManifest(root, 10));
}

TEST(CommitTest, WaitingGivesUpAtTheDeadline) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  WriteRank(root, 10, 0, 2, "a");
  CommitRequest request = Request(10, 2, "a");
  request.wait_for_ranks = std::chrono::milliseconds(30);
  absl::StatusOr<Manifest> manifest = CommitManifest(root, request);
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(CommitTest, AFileChangedAfterItsRecordFailsTheCommit) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  WriteRank(root, 10, 0, 1, "a");
  TruncateFile(root.StepDirectory(10) + "/rank-0.bin", 3);
  absl::StatusOr<Manifest> manifest = CommitManifest(root, Request(10, 1, "a"));
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(manifest.status().message(), HasSubstr("rank-0.bin"));
}

TEST(CommitTest, ACommittedStepIsNeverCommittedAgain) {
  ScopedTestRoot tmp;
  ASSERT_TRUE(WriteRawCheckpoint(tmp.Job(), 10).ok());
  absl::StatusOr<Manifest> again = CommitManifest(tmp.Job(), Request(10, 2, "save-10"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(DiscoveryTest, ListsCommittedNewestFirstAndIgnoresUncommitted) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  ASSERT_TRUE(WriteRawCheckpoint(root, 5).ok());
  ASSERT_TRUE(WriteRawCheckpoint(root, 20).ok());
  ASSERT_TRUE(WriteRawCheckpoint(root, 10).ok());
  WriteRank(root, 30, 0, 2, "x");  // rank 1 never finished: no manifest
  std::filesystem::create_directories(tmp.path() + "/job/not-a-step");
  absl::StatusOr<std::vector<CommittedCheckpoint>> list = ListCommittedCheckpoints(root);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].step, 20);
  EXPECT_EQ((*list)[1].step, 10);
  EXPECT_EQ((*list)[2].step, 5);
  absl::StatusOr<CommittedCheckpoint> newest = FindNewestValidCheckpoint(root);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->step, 20);
}

TEST(DiscoveryTest, NoJobFolderIsAnEmptyList) {
  ScopedTestRoot tmp;
  absl::StatusOr<std::vector<CommittedCheckpoint>> list = ListCommittedCheckpoints(tmp.Job("never-ran"));
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(FindNewestValidCheckpoint(tmp.Job("never-ran")).status().code(), absl::StatusCode::kNotFound);
}

TEST(DiscoveryTest, TruncatedAndFlippedFilesAreNamedAndSkipped) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  ASSERT_TRUE(WriteRawCheckpoint(root, 10).ok());
  ASSERT_TRUE(WriteRawCheckpoint(root, 20).ok());
  ASSERT_TRUE(WriteRawCheckpoint(root, 30).ok());
  TruncateFile(root.StepDirectory(30) + "/data-rank-1.bin", 100);
  FlipByte(root.StepDirectory(20) + "/data-rank-0.bin", 2000);
  std::vector<std::string> log;
  absl::StatusOr<CommittedCheckpoint> newest =
      FindNewestValidCheckpoint(root, [&](const std::string& m) { log.push_back(m); });
  ASSERT_TRUE(newest.ok()) << newest.status();
  EXPECT_EQ(newest->step, 10);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_THAT(log[0], HasSubstr("step-00000030/data-rank-1.bin"));
  EXPECT_THAT(log[0], HasSubstr("size 100"));
  EXPECT_THAT(log[0], HasSubstr("falling back"));
  EXPECT_THAT(log[1], HasSubstr("step-00000020/data-rank-0.bin"));
  EXPECT_THAT(log[1], HasSubstr("CRC32C"));
}

TEST(DiscoveryTest, ADamagedManifestIsSkippedAndNamed) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  ASSERT_TRUE(WriteRawCheckpoint(root, 10).ok());
  ASSERT_TRUE(WriteRawCheckpoint(root, 20).ok());
  FlipByte(root.StepDirectory(20) + "/manifest.json", 40);
  std::vector<std::string> log;
  absl::StatusOr<CommittedCheckpoint> newest =
      FindNewestValidCheckpoint(root, [&](const std::string& m) { log.push_back(m); });
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->step, 10);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_THAT(log[0], HasSubstr("step-00000020/manifest.json"));
}

}  // namespace
}  // namespace tunefleet
