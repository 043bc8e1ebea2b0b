#include "common/fs/remove_tree.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/testing/child_process.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

UniqueFd OpenDir(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

TEST(RemoveTree, ALinkPlantedInTheTreeIsRemovedAsALinkAndItsTargetSurvives) {
  const std::string dir = testing::FreshTestDirectory();
  fs::create_directories(dir + "/outside/precious");
  std::ofstream(dir + "/outside/precious/weights.bin") << "keep me";
  std::ofstream(dir + "/outside/secret.txt") << "keep me too";
  fs::create_directories(dir + "/root/step-1/sub");
  std::ofstream(dir + "/root/step-1/a.bin") << "a";
  std::ofstream(dir + "/root/step-1/sub/b.bin") << "b";
  fs::create_directory_symlink(dir + "/outside/precious", dir + "/root/step-1/sub/planted-dir");
  fs::create_symlink(dir + "/outside/secret.txt", dir + "/root/step-1/planted-file");
  fs::create_directory_symlink(dir + "/outside", dir + "/root/step-2");  // the folder itself a link

  const UniqueFd root = OpenDir(dir + "/root");
  ASSERT_TRUE(root.valid());
  ASSERT_TRUE(RemoveTreeAt(root.get(), "step-1").ok());
  ASSERT_TRUE(RemoveTreeAt(root.get(), "step-2").ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir + "/root/step-1")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir + "/root/step-2")));
  EXPECT_EQ(Slurp(dir + "/outside/precious/weights.bin"), "keep me");
  EXPECT_EQ(Slurp(dir + "/outside/secret.txt"), "keep me too");
  EXPECT_TRUE(fs::is_directory(dir + "/root"));
}

TEST(RemoveTree, AMissingNameIsNotAnErrorAndOnlyOneNameIsTaken) {
  const std::string dir = testing::FreshTestDirectory();
  const UniqueFd root = OpenDir(dir);
  EXPECT_TRUE(RemoveTreeAt(root.get(), "not-there").ok());
  for (const char* bad : {"", ".", "..", "../x", "a/b"}) {
    const absl::Status s = RemoveTreeAt(root.get(), bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad << ": " << s;
  }
  std::ofstream(dir + "/file") << "x";
  EXPECT_TRUE(RemoveTree(dir + "/file").ok());
  EXPECT_FALSE(fs::exists(dir + "/file"));
}

TEST(RemoveTree, OpeningAFolderRefusesALink) {
  const std::string dir = testing::FreshTestDirectory();
  fs::create_directories(dir + "/real");
  fs::create_directory_symlink(dir + "/real", dir + "/link");
  const UniqueFd root = OpenDir(dir);
  EXPECT_TRUE(OpenDirectoryAt(root.get(), "real").ok());
  auto link = OpenDirectoryAt(root.get(), "link");
  ASSERT_FALSE(link.ok());
  EXPECT_THAT(link.status().message(), HasSubstr("a symbolic link or not a folder"));
}

TEST(RemoveTree, ATreeDeeperThanTheBoundIsRefusedNotRecursedInto) {
  const std::string dir = testing::FreshTestDirectory();
  std::string path = dir + "/deep";
  for (int i = 0; i <= kMaxRemoveDepth; ++i) path += "/d";
  fs::create_directories(path);
  const UniqueFd root = OpenDir(dir);
  const absl::Status s = RemoveTreeAt(root.get(), "deep");
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("nested deeper than 128 folders"));
  fs::remove_all(dir + "/deep");
}

}  // namespace
}  // namespace tunefleet
