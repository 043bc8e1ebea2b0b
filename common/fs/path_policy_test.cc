// Attacks on the confined opens: each user path field is opened beneath the
// allowed roots, and neither a symlink, "..", a system file nor a device or
// FIFO gets through. Every case runs with openat2 and with the O_NOFOLLOW
// walk (the fallback where openat2 is missing).

#include "common/fs/path_policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/child_process.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ReadFd(int fd) {
  std::string out;
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  return out;
}

class PathPolicyTest : public ::testing::TestWithParam<BeneathResolver> {
 protected:
  void SetUp() override {
    base_ = testing::FreshTestDirectory();
    root_ = base_ + "/root";
    outside_ = base_ + "/outside";
    fs::create_directories(root_ + "/models/m");
    fs::create_directories(outside_ + "/secret_dir");
    WriteText(root_ + "/data.jsonl", "{\"text\":\"hi\"}\n");
    WriteText(root_ + "/models/m/config.json", "{}");
    WriteText(outside_ + "/secret", "secret");
    auto policy = PathPolicy::Confined({root_}, {root_ + "/keys"}, GetParam());
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = std::move(*policy);
  }

  std::string base_, root_, outside_;
  PathPolicy policy_ = PathPolicy::Unconfined();
};

TEST_P(PathPolicyTest, OpensFilesAndDirectoriesBeneathARoot) {
  auto file = policy_.OpenFile("dataset.path", root_ + "/data.jsonl");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(ReadFd(file->get()), "{\"text\":\"hi\"}\n");
  EXPECT_TRUE(policy_.OpenDirectory("model.path", root_ + "/models/m/").ok());
  EXPECT_TRUE(policy_.OpenDirectory("checkpoint.directory", root_).ok());
  // A symlink that stays inside is fine with openat2 (the walk refuses every link).
  fs::create_symlink("models/m/config.json", root_ + "/inside-link");
  EXPECT_EQ(policy_.OpenFile("model.path", root_ + "/inside-link").ok(), GetParam() == BeneathResolver::kAuto);
}

TEST_P(PathPolicyTest, OutsideTheRootsIsRefusedNamingTheField) {
  auto status = policy_.OpenFile("model.path", outside_ + "/secret").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("model.path \"" + outside_ + "/secret\" is outside the allowed roots [" +
                                          root_ + "]"));
  // ".." is resolved lexically first: it cannot climb out of the root.
  status = policy_.OpenFile("dataset.path", root_ + "/../outside/secret").status();
  EXPECT_THAT(status.message(), HasSubstr("dataset.path \"" + root_ + "/../outside/secret\" is outside"));
  // A sibling with the root as a prefix is not beneath it.
  fs::create_directories(root_ + "2");
  EXPECT_THAT(policy_.OpenDirectory("export.directory", root_ + "2").status().message(), HasSubstr("outside"));
  EXPECT_THAT(policy_.OpenFile("model.path", "relative/model").status().message(),
              HasSubstr("model.path \"relative/model\" is relative"));
}

TEST_P(PathPolicyTest, SystemTreesAreNeverPathsNorRoots) {
  EXPECT_THAT(policy_.OpenFile("model.path", "/etc/passwd").status().message(),
              HasSubstr("model.path \"/etc/passwd\" is in /etc, which jobs may never read or write"));
  EXPECT_THAT(policy_.OpenFile("dataset.path", "/dev/zero").status().message(), HasSubstr("is in /dev"));
  EXPECT_THAT(policy_.OpenFile("dataset.path", "/proc/self/environ").status().message(), HasSubstr("is in /proc"));
  EXPECT_THAT(policy_.OpenDirectory("checkpoint.directory", "/").status().message(), HasSubstr("is / itself"));
  for (const char* root : {"/", "/etc", "/proc/self", "/sys", "/dev/shm"}) {
    auto refused = PathPolicy::Confined({root});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << root;
  }
  // A root whose real path is a system tree is refused too.
  fs::create_directory_symlink("/etc", base_ + "/etc-link");
  EXPECT_THAT(PathPolicy::Confined({base_ + "/etc-link"}).status().message(), HasSubstr("in /etc"));
  // The unconfined policy (the operator's escape hatch) keeps this rule.
  EXPECT_THAT(PathPolicy::Unconfined().OpenFile("model.path", "/etc/passwd").status().message(), HasSubstr("in /etc"));
}

TEST_P(PathPolicyTest, ASymlinkedFileInsideARootCannotLeadOut) {
  fs::create_symlink(outside_ + "/secret", root_ + "/data-link.jsonl");
  fs::create_symlink("../../../outside/secret", root_ + "/models/m/tokenizer.json");
  fs::create_symlink("/etc/passwd", root_ + "/passwd");
  for (const std::string& path :
       {root_ + "/data-link.jsonl", root_ + "/models/m/tokenizer.json", root_ + "/passwd"}) {
    auto status = policy_.OpenFile("dataset.path", path).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << path;
    EXPECT_THAT(status.message(), HasSubstr("dataset.path \"" + path + "\" leads outside the allowed roots"));
  }
}

TEST_P(PathPolicyTest, ASymlinkedDirectoryInsideARootCannotLeadOut) {
  fs::create_directory_symlink(outside_, root_ + "/escape");
  // Reading through it, at each kind of field.
  EXPECT_THAT(policy_.OpenFile("dataset.validation_path", root_ + "/escape/secret").status().message(),
              HasSubstr("dataset.validation_path \"" + root_ + "/escape/secret\" leads outside"));
  EXPECT_THAT(policy_.OpenDirectory("model.path", root_ + "/escape/secret_dir").status().message(),
              HasSubstr("model.path"));
  // Writing through it: nothing is made outside.
  auto made = policy_.MakeDirectories("checkpoint.directory", root_ + "/escape/ckpt/job");
  EXPECT_EQ(made.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(made.status().message(), HasSubstr("checkpoint.directory"));
  EXPECT_FALSE(fs::exists(outside_ + "/ckpt"));
  EXPECT_THAT(policy_.CheckDirectoryTarget("export.directory", root_ + "/escape/new/export").message(),
              HasSubstr("export.directory"));
  EXPECT_FALSE(fs::exists(outside_ + "/new"));
}

TEST_P(PathPolicyTest, MakeDirectoriesCreatesBeneathTheRoot) {
  auto made = policy_.MakeDirectories("checkpoint.directory", root_ + "/ckpt/a/b");
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(fs::is_directory(root_ + "/ckpt/a/b"));
  EXPECT_TRUE(policy_.MakeDirectories("checkpoint.directory", root_ + "/ckpt/a/b").ok());  // again: fine
  EXPECT_TRUE(policy_.CheckDirectoryTarget("export.directory", root_ + "/ckpt/a/new/deeper").ok());
  EXPECT_FALSE(fs::exists(root_ + "/ckpt/a/new"));
}

TEST_P(PathPolicyTest, DevicesAndFifosAreNotData) {
  ASSERT_EQ(mkfifo((root_ + "/fifo.jsonl").c_str(), 0600), 0);
  // Opened O_NONBLOCK: the open returns at once rather than waiting for a writer.
  auto status = policy_.OpenFile("dataset.path", root_ + "/fifo.jsonl").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("dataset.path \"" + root_ + "/fifo.jsonl\" is a FIFO, not a regular file"));
  EXPECT_THAT(policy_.OpenFile("dataset.path", root_ + "/models").status().message(), HasSubstr("is a directory"));
  // /dev/zero, even reached without naming /dev, is refused as data.
  auto unconfined = PathPolicy::Unconfined();
  fs::create_symlink("/dev/zero", base_ + "/zero.jsonl");
  EXPECT_THAT(unconfined.OpenFile("dataset.path", base_ + "/zero.jsonl").status().message(),
              HasSubstr("resolves to \"/dev/zero\", in /dev"));
}

TEST_P(PathPolicyTest, DeniedTreesInsideARootStayClosedEvenThroughAnInsideLink) {
  fs::create_directories(root_ + "/keys");
  WriteText(root_ + "/keys/admin.token", "secret");
  EXPECT_THAT(policy_.OpenFile("dataset.path", root_ + "/keys/admin.token").status().message(),
              HasSubstr("dataset.path \"" + root_ + "/keys/admin.token\" is in \"" + root_ + "/keys\""));
  fs::create_symlink("keys/admin.token", root_ + "/token.jsonl");
  EXPECT_FALSE(policy_.OpenFile("dataset.path", root_ + "/token.jsonl").ok());
}

INSTANTIATE_TEST_SUITE_P(Resolvers, PathPolicyTest,
                         ::testing::Values(BeneathResolver::kAuto, BeneathResolver::kWalk),
                         [](const ::testing::TestParamInfo<BeneathResolver>& param) {
                           return param.param == BeneathResolver::kAuto ? "Openat2" : "Walk";
                         });

}  // namespace
}  // namespace tunefleet
