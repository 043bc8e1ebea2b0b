#include "common/job_spec_paths.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

v1::JobSpec Spec(const std::string& model, const std::string& data) {
  v1::JobSpec spec;
  spec.mutable_model()->set_path(model);
  spec.mutable_dataset()->set_path(data);
  return spec;
}

TEST(JobSpecPaths, NoRootsAllowsAnything) {
  EXPECT_TRUE(CheckPathsUnderRoots(Spec("relative/model", "/etc/passwd"), {}).ok());
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
  EXPECT_THAT(status.message(), HasSubstr("dataset.path: \"/etc/passwd\" is outside the allowed path roots (/shared)"));

  v1::JobSpec spec = Spec("/shared/m", "/shared/d");
  spec.mutable_dataset()->set_validation_path("/shared2/v");  // a sibling, not a child
  EXPECT_THAT(CheckPathsUnderRoots(spec, roots).message(), HasSubstr("dataset.validation_path"));

  spec = Spec("/shared/m", "/shared/d");
  spec.mutable_checkpoint()->set_directory("/shared/../root/.ssh");  // ".." cannot climb out
  EXPECT_THAT(CheckPathsUnderRoots(spec, roots).message(), HasSubstr("checkpoint.directory"));

  spec = Spec("/shared/m", "/shared/d");
  spec.mutable_export_()->set_directory("/tmp/out");
  EXPECT_THAT(CheckPathsUnderRoots(spec, roots).message(), HasSubstr("export.directory"));
}

TEST(JobSpecPaths, RelativePathsAreRefusedWhenRootsAreSet) {
  auto status = CheckPathsUnderRoots(Spec("base_model", "/shared/d"), {"/shared"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("model.path: \"base_model\" is relative"));
}

}  // namespace
}  // namespace tunefleet
