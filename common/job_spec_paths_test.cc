#include "common/job_spec_paths.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/testing/child_process.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

v1::JobSpec Spec(const std::string& model, const std::string& data) {
  v1::JobSpec spec;
  spec.mutable_model()->set_path(model);
  spec.mutable_dataset()->set_path(data);
  return spec;
}

TEST(JobSpecPaths, NoRootsAllowsAnythingButTheSystemTrees) {
  EXPECT_TRUE(CheckPathsUnderRoots(Spec("relative/model", "/srv/data.jsonl"), {}).ok());
  auto status = CheckPathsUnderRoots(Spec("/srv/m", "/etc/passwd"), {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("dataset.path \"/etc/passwd\" is in /etc"));
  EXPECT_THAT(CheckPathsUnderRoots(Spec("/dev/zero", "/srv/d"), {}).message(), HasSubstr("model.path \"/dev/zero\""));
  EXPECT_THAT(CheckPathsUnderRoots(Spec("/srv/../proc/self", "/srv/d"), {}).message(), HasSubstr("in /proc"));
}

TEST(JobSpecPaths, PathsUnderARootPass) {
  v1::JobSpec spec = Spec("/models/llama", "/shared/data/../data/train.jsonl");
  spec.mutable_checkpoint()->set_directory("/shared/checkpoints/");
  spec.mutable_export_()->set_directory("/shared");
  EXPECT_TRUE(CheckPathsUnderRoots(spec, {"/shared/", "/models"}).ok());
}

TEST(JobSpecPaths, EachFieldOutsideTheRootsIsNamed) {
  const std::vector<std::string> roots = {"/shared"};
  auto status = CheckPathsUnderRoots(Spec("/shared/m", "/etc/passwd"), roots);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("dataset.path \"/etc/passwd\" is in /etc"));

  v1::JobSpec spec = Spec("/shared/m", "/shared/d");
  spec.mutable_dataset()->set_validation_path("/shared2/v");  // a sibling, not a child
  EXPECT_THAT(CheckPathsUnderRoots(spec, roots).message(), HasSubstr("dataset.validation_path"));

  spec = Spec("/shared/m", "/shared/d");
  spec.mutable_checkpoint()->set_directory("/shared/../root/.ssh");  // ".." cannot climb out
  EXPECT_THAT(CheckPathsUnderRoots(spec, roots).message(), HasSubstr("checkpoint.directory"));

  spec = Spec("/shared/m", "/shared/d");
  spec.mutable_export_()->set_directory("/tmp/out");
  EXPECT_THAT(CheckPathsUnderRoots(spec, roots).message(),
              HasSubstr("export.directory \"/tmp/out\" is outside the allowed roots [/shared]"));
}

TEST(JobSpecPaths, ALinkInsideARootThatLeadsOutIsRefusedAtSubmitWhereItIsVisible) {
  const std::string dir = testing::FreshTestDirectory();
  std::filesystem::create_directories(dir + "/root");
  std::filesystem::create_directory_symlink("/etc", dir + "/root/etc-link");
  std::filesystem::create_directory_symlink(dir, dir + "/root/up");
  auto status = CheckPathsUnderRoots(Spec(dir + "/root/etc-link/passwd", dir + "/root/d"), {dir + "/root"});
  EXPECT_THAT(status.message(), HasSubstr("model.path \"" + dir + "/root/etc-link/passwd\" resolves to \"/etc/passwd\", in /etc"));
  v1::JobSpec spec = Spec(dir + "/root/m", dir + "/root/d");
  spec.mutable_checkpoint()->set_directory(dir + "/root/up/elsewhere/ckpt");  // not there yet: its real parent is
  EXPECT_THAT(CheckPathsUnderRoots(spec, {dir + "/root"}).message(),
              HasSubstr("checkpoint.directory \"" + dir + "/root/up/elsewhere/ckpt\" resolves to \"" + dir +
                        "/elsewhere/ckpt\", outside the allowed roots"));
}

TEST(JobSpecPaths, TheTrainerOpensEveryFieldThroughItsPolicy) {
  const std::string dir = testing::FreshTestDirectory();
  std::filesystem::create_directories(dir + "/root/model");
  std::ofstream(dir + "/root/train.jsonl") << "{}\n";
  std::filesystem::create_symlink("/etc/passwd", dir + "/root/valid.jsonl");
  auto policy = PathPolicy::Confined({dir + "/root"});
  ASSERT_TRUE(policy.ok());
  v1::JobSpec spec = Spec(dir + "/root/model", dir + "/root/train.jsonl");
  spec.mutable_checkpoint()->set_directory(dir + "/root/ckpt");
  EXPECT_TRUE(OpenSpecPaths(spec, *policy).ok());
  spec.mutable_dataset()->set_validation_path(dir + "/root/valid.jsonl");
  EXPECT_THAT(OpenSpecPaths(spec, *policy).message(), HasSubstr("dataset.validation_path \"" + dir +
                                                                "/root/valid.jsonl\" leads outside the allowed roots"));
}

TEST(JobSpecPaths, RelativePathsAreRefusedWhenRootsAreSet) {
  auto status = CheckPathsUnderRoots(Spec("base_model", "/shared/d"), {"/shared"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("model.path \"base_model\" is relative"));
}

}  // namespace
}  // namespace tunefleet
