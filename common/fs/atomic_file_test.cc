#include "common/fs/atomic_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/fs/process_path_policy.h"
#include "tests/testing/child_process.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AtomicFile, WritesThroughARandomExclusiveTemporary) {
  const std::string dir = testing::FreshTestDirectory();
  auto writer = AtomicFileWriter::Create(dir + "/out.json", 0600);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_THAT((*writer)->temp_name(), ::testing::MatchesRegex("out\\.json\\.tmp-[0-9a-f]{16}"));
  ASSERT_TRUE((*writer)->Append("abc", 3).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(Slurp(dir + "/out.json"), "abc");
  struct stat st {};
  ASSERT_EQ(stat((dir + "/out.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // no temporary left
  EXPECT_NE(RandomTempName("x"), RandomTempName("x"));
}

TEST(AtomicFile, ASymlinkPlantedAtTheOldTempNameOrTheTargetIsNeverFollowed) {
  const std::string dir = testing::FreshTestDirectory();
  const std::string victim = dir + "/victim";
  std::ofstream(victim) << "untouched";
  // The old fixed name and the target itself both point at the victim.
  fs::create_symlink(victim, dir + "/out.json.tmp");
  fs::create_symlink(victim, dir + "/out.json");
  ASSERT_TRUE(WriteFileAtomically(dir + "/out.json", "new").ok());
  EXPECT_EQ(Slurp(victim), "untouched");
  EXPECT_FALSE(fs::is_symlink(dir + "/out.json"));  // replaced, not followed
  EXPECT_EQ(Slurp(dir + "/out.json"), "new");
}

TEST(AtomicFile, ASymlinkSwappedInForTheTemporaryAfterCreateIsReplaced) {
  const std::string dir = testing::FreshTestDirectory();
  const std::string victim = dir + "/victim";
  std::ofstream(victim) << "untouched";
  auto writer = AtomicFileWriter::Create(dir + "/out.json");
  ASSERT_TRUE(writer.ok());
  // An attacker who learns the name replaces the temporary with a link: our
  // writes go to the file we created (by descriptor), and the commit sees
  // the name no longer holds that file and refuses to rename it into place.
  const std::string temp = dir + "/" + (*writer)->temp_name();
  fs::remove(temp);
  fs::create_symlink(victim, temp);
  ASSERT_TRUE((*writer)->Append("new", 3).ok());
  EXPECT_EQ((*writer)->Commit().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Slurp(victim), "untouched");
  EXPECT_FALSE(fs::exists(dir + "/out.json"));
}

TEST(AtomicFile, TheDirectoryIsOpenedThroughTheInstalledPolicy) {
  const std::string base = testing::FreshTestDirectory();
  fs::create_directories(base + "/root");
  fs::create_directories(base + "/outside");
  fs::create_directory_symlink(base + "/outside", base + "/root/escape");
  auto policy = PathPolicy::Confined({base + "/root"});
  ASSERT_TRUE(policy.ok());
  InstallPathPolicy(std::make_shared<PathPolicy>(std::move(*policy)));
  EXPECT_TRUE(WriteFileAtomically(base + "/root/ok.json", "{}").ok());
  EXPECT_EQ(WriteFileAtomically(base + "/root/escape/x.json", "{}").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(fs::exists(base + "/outside/x.json"));
  InstallPathPolicy(nullptr);
}

}  // namespace
}  // namespace tunefleet
