#include "common/job_spec_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/job_spec_defaults.h"
#include "common/job_spec_file.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

v1::JobSpec Minimal() {
  v1::JobSpec spec;
  spec.mutable_model()->set_path("/m");
  spec.mutable_dataset()->set_path("/d.jsonl");
  return WithDefaults(spec);
}

TEST(WithDefaults, FillsDocumentedDefaultsAndIsIdempotent) {
  v1::JobSpec spec = Minimal();
  EXPECT_EQ(spec.method().type(), v1::FINE_TUNE_METHOD_FULL);
  EXPECT_EQ(spec.resources().world_size(), 1);
  EXPECT_EQ(spec.parallelism().zero_stage(), 1);
  EXPECT_EQ(spec.hyperparameters().sequence_length(), 512);
  EXPECT_EQ(spec.restart().max_restarts(), 3);
  EXPECT_EQ(WithDefaults(spec).SerializeAsString(), spec.SerializeAsString());
}

TEST(WithDefaults, ExplicitZeroStageZeroIsKept) {
  v1::JobSpec spec;
  spec.mutable_parallelism()->set_zero_stage(0);
  EXPECT_EQ(WithDefaults(spec).parallelism().zero_stage(), 0);
}

TEST(ValidateJobSpec, MinimalSpecIsValid) { EXPECT_TRUE(ValidateJobSpec(Minimal()).ok()); }

TEST(ValidateJobSpec, EachErrorNamesItsField) {
  struct Case {
    const char* override_;
    const char* field;
  };
  const Case cases[] = {
      {"model.path=", "model.path"},
      {"hyperparameters.learning_rate=-1", "hyperparameters.learning_rate"},
      {"resources.world_size=5000", "resources.world_size"},
      {"resources.gpus_per_rank=2", "resources.gpus_per_rank"},
      {"hyperparameters.global_batch_size=-2", "hyperparameters.global_batch_size"},
      {"parallelism.zero_stage=3", "parallelism.zero_stage"},
      {"checkpoint.keep_last=0", "checkpoint.keep_last"},
      {"export.format=peft_adapter", "export.format"},
      {"dataset.validation_fraction=0.9", "dataset.validation_fraction"},
  };
  for (const Case& c : cases) {
    v1::JobSpec spec = Minimal();
    ASSERT_TRUE(ApplyJobSpecOverride(spec, c.override_).ok()) << c.override_;
    absl::Status s = ValidateJobSpec(spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.override_;
    EXPECT_THAT(s.message(), HasSubstr(c.field)) << c.override_;
  }
}

TEST(ValidateJobSpec, UnknownLoraModuleIsNamed) {
  v1::JobSpec spec = Minimal();
  ASSERT_TRUE(ApplyJobSpecOverride(spec, "method.type=lora").ok());
  ASSERT_TRUE(ApplyJobSpecOverride(spec, "method.lora.target_modules=[attn]").ok());
  spec = WithDefaults(spec);
  absl::Status s = ValidateJobSpec(spec);
  EXPECT_THAT(s.message(), HasSubstr("unknown module 'attn'"));
}

}  // namespace
}  // namespace tunefleet
