#include "common/job_spec_file.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

TEST(ParseJobSpec, ReadsYamlWithShortEnumNames) {
  auto spec = ParseJobSpec(R"(
display_name: demo
model: {path: /models/base}
dataset:
  path: /data/train.jsonl
  format: chat
  chat_template: llama3
method:
  type: lora
  lora: {rank: 16, target_modules: [q_proj, v_proj]}
hyperparameters:
  learningRate: 1e-4
  max_steps: 100
parallelism: {zero_stage: 2}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->display_name(), "demo");
  EXPECT_EQ(spec->dataset().format(), v1::DATASET_FORMAT_CHAT);
  EXPECT_EQ(spec->dataset().chat_template(), v1::CHAT_TEMPLATE_LLAMA3);
  EXPECT_EQ(spec->method().type(), v1::FINE_TUNE_METHOD_LORA);
  EXPECT_EQ(spec->method().lora().rank(), 16);
  EXPECT_EQ(spec->method().lora().target_modules_size(), 2);
  EXPECT_DOUBLE_EQ(spec->hyperparameters().learning_rate(), 1e-4);
  EXPECT_EQ(spec->parallelism().zero_stage(), 2);
  EXPECT_TRUE(spec->parallelism().has_zero_stage());
}

TEST(ParseJobSpec, ReadsJsonAndFullEnumNames) {
  auto spec = ParseJobSpec(R"({"method": {"type": "FINE_TUNE_METHOD_FULL"}, "resources": {"world_size": 3}})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->method().type(), v1::FINE_TUNE_METHOD_FULL);
  EXPECT_EQ(spec->resources().world_size(), 3);
}

TEST(ParseJobSpec, UnknownFieldNamesLineAndField) {
  auto spec = ParseJobSpec("model:\n  path: /m\nhyperparameters:\n  learning_rat: 0.1\n", "job.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("job.yaml:4"));
  EXPECT_THAT(spec.status().message(), HasSubstr("hyperparameters.learning_rat"));
  EXPECT_THAT(spec.status().message(), HasSubstr("unknown field"));
}

TEST(ParseJobSpec, BadValuesAreNamed) {
  auto bad_int = ParseJobSpec("resources:\n  world_size: two\n", "s.yaml");
  ASSERT_FALSE(bad_int.ok());
  EXPECT_THAT(bad_int.status().message(), HasSubstr("s.yaml:2: resources.world_size: expected an integer"));

  auto bad_enum = ParseJobSpec("method: {type: qlora}\n");
  ASSERT_FALSE(bad_enum.ok());
  EXPECT_THAT(bad_enum.status().message(), HasSubstr("unknown value 'qlora' (one of: full, lora)"));

  auto bad_yaml = ParseJobSpec("model: {path: [\n", "x.yaml");
  ASSERT_FALSE(bad_yaml.ok());
  EXPECT_THAT(bad_yaml.status().message(), HasSubstr("x.yaml:"));
}

TEST(ApplyJobSpecOverride, SetsNestedScalarsAndReplacesLists) {
  auto spec = ParseJobSpec("method: {type: lora, lora: {rank: 4, target_modules: [q_proj]}}\n");
  ASSERT_TRUE(spec.ok());
  ASSERT_TRUE(ApplyJobSpecOverride(*spec, "hyperparameters.learning_rate=3e-4").ok());
  ASSERT_TRUE(ApplyJobSpecOverride(*spec, "method.lora.target_modules=[k_proj, o_proj]").ok());
  EXPECT_DOUBLE_EQ(spec->hyperparameters().learning_rate(), 3e-4);
  EXPECT_EQ(spec->method().lora().rank(), 4);  // sibling kept
  ASSERT_EQ(spec->method().lora().target_modules_size(), 2);
  EXPECT_EQ(spec->method().lora().target_modules(0), "k_proj");

  auto bad = ApplyJobSpecOverride(*spec, "hyperparameters.nope=1");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.message(), HasSubstr("hyperparameters.nope"));
  EXPECT_FALSE(ApplyJobSpecOverride(*spec, "no_equals_sign").ok());
}

TEST(LoadJobSpecFile, MissingFileIsNotFound) {
  auto spec = LoadJobSpecFile("/nonexistent/job.yaml");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tunefleet

namespace tunefleet {
namespace {

TEST(ResolveJobSpecPaths, RelativePathsFollowTheSpecFile) {
  v1::JobSpec spec;
  spec.mutable_model()->set_path("base_model");
  spec.mutable_dataset()->set_path("/abs/train.jsonl");
  ResolveJobSpecPaths(spec, "/specs");
  EXPECT_EQ(spec.model().path(), "/specs/base_model");
  EXPECT_EQ(spec.dataset().path(), "/abs/train.jsonl");
  EXPECT_EQ(spec.dataset().validation_path(), "");
}

}  // namespace
}  // namespace tunefleet

namespace tunefleet {
namespace {

// `--set dataset.path=x` means what `dataset: {path: x}` in the file means,
// from whichever folder the command runs in (issue 19, item 6).
TEST(LoadJobSpecWithOverrides, RelativeOverridesResolveAgainstTheSpecFileLikeTheFile) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "spec-overrides";
  std::filesystem::create_directories(dir / "specs");
  {
    std::ofstream out(dir / "specs/job.yaml");
    out << "model: {path: base}\ndataset: {path: data/train.jsonl}\n";
  }
  const std::filesystem::path previous = std::filesystem::current_path();
  std::filesystem::current_path(dir);  // elsewhere than the spec's folder
  auto from_file = LoadJobSpecWithOverrides("specs/job.yaml", {});
  auto from_set = LoadJobSpecWithOverrides("specs/job.yaml", {"dataset.path=data/train.jsonl", "model.path=base"});
  auto bad = LoadJobSpecWithOverrides("specs/job.yaml", {"dataset.nope=1"});
  std::filesystem::current_path(previous);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  ASSERT_TRUE(from_set.ok()) << from_set.status();
  const std::string folder = (dir / "specs").string();
  EXPECT_EQ(from_file->dataset().path(), folder + "/data/train.jsonl");
  EXPECT_EQ(from_set->dataset().path(), from_file->dataset().path());
  EXPECT_EQ(from_set->model().path(), folder + "/base");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--set dataset.nope=1"));
}

}  // namespace
}  // namespace tunefleet
