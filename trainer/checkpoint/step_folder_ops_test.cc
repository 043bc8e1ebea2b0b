#include "trainer/checkpoint/step_folder_ops.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "trainer/checkpoint/checkpoint_core_test_util.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/retention.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using testing::ScopedTestRoot;
using testing::WriteRawCheckpoint;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Another team's folder, outside the checkpoint directory.
std::string Outside(const ScopedTestRoot& tmp) {
  const std::string outside = tmp.path() + "/outside";
  fs::create_directories(outside);
  std::ofstream(outside + "/weights.bin") << "theirs";
  return outside;
}

TEST(StepFolderOps, ALinkNamedLikeAStepFolderIsNoStepFolder) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  ASSERT_TRUE(WriteRawCheckpoint(root, 10).ok());
  ASSERT_TRUE(WriteRawCheckpoint(root, 20).ok());
  const std::string outside = Outside(tmp);
  fs::copy_file(root.StepDirectory(10) + "/manifest.json", outside + "/manifest.json");
  fs::create_directory_symlink(outside, root.StepDirectory(5));  // older: retention would remove it
  absl::StatusOr<std::vector<StepFolder>> folders = ListStepFolders(root);
  ASSERT_TRUE(folders.ok()) << folders.status();
  ASSERT_EQ(folders->size(), 2u);
  EXPECT_EQ((*folders)[0].step, 20);
  EXPECT_EQ((*folders)[1].step, 10);
  absl::StatusOr<RetentionReport> report = ApplyRetention(root, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->kept, ElementsAre(20));
  EXPECT_EQ(Slurp(outside + "/weights.bin"), "theirs");
  EXPECT_TRUE(fs::is_symlink(root.StepDirectory(5)));  // not ours to act on
}

TEST(StepFolderOps, RetentionRemovesALinkPlantedInAFolderAsALink) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  ASSERT_TRUE(WriteRawCheckpoint(root, 10).ok());
  ASSERT_TRUE(WriteRawCheckpoint(root, 20).ok());
  const std::string outside = Outside(tmp);
  fs::create_directory_symlink(outside, root.StepDirectory(10) + "/planted");
  fs::create_symlink(outside + "/weights.bin", root.StepDirectory(10) + "/data-rank-9.bin");
  absl::StatusOr<RetentionReport> report = ApplyRetention(root, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->deleted, ElementsAre(root.StepDirectory(10)));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root.StepDirectory(10))));
  EXPECT_EQ(Slurp(outside + "/weights.bin"), "theirs");
}

TEST(StepFolderOps, AStepFolderSwappedForALinkIsRemovedAsALink) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  ASSERT_TRUE(WriteRawCheckpoint(root, 10).ok());
  const std::string outside = Outside(tmp);
  const std::string name = fs::path(root.StepDirectory(10)).filename().string();
  // Listed as a folder, then swapped before the removal acts.
  fs::remove_all(root.StepDirectory(10));
  fs::create_directory_symlink(outside, root.StepDirectory(10));
  ASSERT_TRUE(RemoveStepFolder(root, name).ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(root.StepDirectory(10))));
  EXPECT_EQ(Slurp(outside + "/weights.bin"), "theirs");
}

TEST(StepFolderOps, ADamagedFolderMovesAsideToTheFirstFreeName) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  const std::string name = fs::path(root.StepDirectory(30)).filename().string();
  ASSERT_TRUE(WriteRawCheckpoint(root, 30).ok());
  absl::StatusOr<std::string> first = MoveStepFolderAside(root, name);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, name + ".damaged-0");
  ASSERT_TRUE(WriteRawCheckpoint(root, 30).ok());
  absl::StatusOr<std::string> second = MoveStepFolderAside(root, name);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, name + ".damaged-1");
  EXPECT_TRUE(fs::exists(root.JobDirectory() + "/" + name + ".damaged-0/manifest.json"));
  EXPECT_FALSE(fs::exists(root.StepDirectory(30)));
  EXPECT_FALSE(MoveStepFolderAside(root, name).ok());  // nothing left to move
}

}  // namespace
}  // namespace tunefleet
