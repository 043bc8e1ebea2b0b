// Real processes killed with SIGKILL in the middle of a save (inside a
// file, or after every file but before the commit): what is left on
// storage never loads, the previous checkpoint does, and retention later
// removes the leftovers.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/testing/child_process.h"
#include "trainer/checkpoint/checkpoint_core_test_util.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/retention.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing::ChildProcess;
using testing::RunCommand;
using testing::ScopedTestRoot;

constexpr auto kTimeout = std::chrono::seconds(60);
// 1M elements: a 12 MB optimizer shard, so a pause after the first 8 MiB
// chunk is genuinely in the middle of the file.
constexpr int64_t kNumel = 1 << 20;

std::vector<std::string> WriterArgs(const std::string& root, int64_t step, int rank = 0, int world_size = 1) {
  return {CHECKPOINT_TEST_WRITER, "--root", root, "--job", "job", "--step", absl::StrCat(step), "--numel",
          absl::StrCat(kNumel), "--rank", absl::StrCat(rank), "--world-size", absl::StrCat(world_size)};
}

void SaveCompletely(const std::string& root, int64_t step) {
  const testing::RunResult result = RunCommand(WriterArgs(root, step), kTimeout);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  ASSERT_THAT(result.output, HasSubstr(absl::StrCat("COMMITTED step ", step)));
}

// Starts the writer with `extra` flags, waits for it to pause, kills it.
void KillWhilePaused(std::vector<std::string> args, const std::vector<std::string>& extra) {
  args.insert(args.end(), extra.begin(), extra.end());
  ChildProcess child = ChildProcess::Start(args);
  ASSERT_TRUE(child.WaitForOutput("PAUSED", kTimeout)) << child.output();
  child.Signal(SIGKILL);
  const std::optional<int> code = child.Wait(kTimeout);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 128 + SIGKILL);
}

int64_t NewestValidStep(const CheckpointRoot& root) {
  absl::StatusOr<CommittedCheckpoint> newest = FindNewestValidCheckpoint(root, [](const std::string&) {});
  return newest.ok() ? newest->step : -1;
}

bool HasTmpFile(const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) return true;
  }
  return false;
}

TEST(CheckpointProcessTest, KilledInsideAFileLeavesNothingLoadable) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveCompletely(tmp.path(), 10);
  KillWhilePaused(WriterArgs(tmp.path(), 20),
                  {"--pause-in", OptimizerShardFileName(0, 1), "--pause-after-bytes", "8388608"});
  // The half-written shard is a .tmp-<random> in an uncommitted folder.
  const std::string dir = root.StepDirectory(20);
  ASSERT_TRUE(std::filesystem::exists(dir));
  EXPECT_TRUE(HasTmpFile(dir));
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + kManifestFileName));
  EXPECT_EQ(NewestValidStep(root), 10);

  // A later save commits, and retention then clears the leftover.
  SaveCompletely(tmp.path(), 30);
  absl::StatusOr<RetentionReport> report = ApplyRetention(root, 5, [](const std::string&) {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_EQ(NewestValidStep(root), 30);
}

TEST(CheckpointProcessTest, KilledAfterItsFilesButBeforeTheCommitLeavesNothingLoadable) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveCompletely(tmp.path(), 10);
  KillWhilePaused(WriterArgs(tmp.path(), 20), {"--pause-before-commit"});
  // Every file is complete and fsynced, yet without the manifest it never counts.
  const std::string dir = root.StepDirectory(20);
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + OptimizerShardFileName(0, 1)));
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + kManifestFileName));
  EXPECT_EQ(NewestValidStep(root), 10);
}

TEST(CheckpointProcessTest, OneRankKilledMidSaveStopsTheCommit) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveCompletely(tmp.path(), 10);
  // Rank 1 of 2 dies inside its shard; rank 0 finishes and waits for it.
  KillWhilePaused(WriterArgs(tmp.path(), 20, 1, 2),
                  {"--pause-in", OptimizerShardFileName(1, 2), "--pause-after-bytes", "1"});
  std::vector<std::string> rank0 = WriterArgs(tmp.path(), 20, 0, 2);
  rank0.insert(rank0.end(), {"--wait-for-ranks-ms", "300"});
  const testing::RunResult result = RunCommand(rank0, kTimeout);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("COMMIT FAILED"));
  EXPECT_THAT(result.output, HasSubstr("rank 1"));
  EXPECT_FALSE(std::filesystem::exists(root.StepDirectory(20) + "/" + kManifestFileName));
  EXPECT_EQ(NewestValidStep(root), 10);
}

}  // namespace
}  // namespace tunefleet
