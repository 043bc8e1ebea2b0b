#include "common/job_spec_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "common/job_spec_defaults.h"
#include "common/job_spec_file.h"
#include "common/job_spec_limits.h"

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

// Early stopping and keep_best judge by a validation loss the run must
// compute; the after-training stage needs its data. Each refusal says what
// is missing, and the complete forms pass.
TEST(ValidateJobSpec, EvaluationOptionsNeedWhatTheyJudgeBy) {
  struct Case {
    std::vector<std::string> overrides;
    const char* message;  // empty: valid
  };
  const Case cases[] = {
      {{"evaluation.early_stopping_patience=3"}, "evaluation.early_stopping_patience: needs evaluation.interval_steps"},
      {{"evaluation.early_stopping_patience=3", "evaluation.interval_steps=10"},
       "evaluation.early_stopping_patience: needs validation data"},
      {{"evaluation.early_stopping_patience=3", "evaluation.interval_steps=10", "dataset.validation_fraction=0.1"}, ""},
      {{"evaluation.early_stopping_patience=1001"}, "evaluation.early_stopping_patience"},
      {{"evaluation.early_stopping_min_delta=-1"}, "evaluation.early_stopping_min_delta"},
      {{"checkpoint.keep_best=true", "evaluation.interval_steps=10", "dataset.validation_path=/v.jsonl"},
       "checkpoint.keep_best: needs checkpoint.directory"},
      {{"checkpoint.keep_best=true", "evaluation.interval_steps=10", "dataset.validation_path=/v.jsonl",
        "checkpoint.directory=/c"},
       ""},
      {{"checkpoint.keep_best=true", "checkpoint.directory=/c"}, "checkpoint.keep_best: needs evaluation.interval_steps"},
      {{"evaluation.after_training.max_examples=5"}, "evaluation.after_training.data_path: is required"},
      {{"evaluation.after_training.data_path=/t.jsonl"}, ""},
      {{"evaluation.after_training.data_path=/t.jsonl", "evaluation.after_training.max_new_tokens=5000"},
       "evaluation.after_training.max_new_tokens"},
      {{"evaluation.after_training.data_path=/t.jsonl", "evaluation.after_training.bootstrap_resamples=5"},
       "evaluation.after_training.bootstrap_resamples"},
      {{"evaluation.after_training.data_path=/t.jsonl", "evaluation.after_training.max_examples=-1"},
       "evaluation.after_training.max_examples"},
  };
  for (const Case& c : cases) {
    v1::JobSpec spec = Minimal();
    for (const std::string& o : c.overrides) ASSERT_TRUE(ApplyJobSpecOverride(spec, o).ok()) << o;
    const absl::Status s = ValidateJobSpec(WithDefaults(spec));
    if (std::string(c.message).empty()) {
      EXPECT_TRUE(s.ok()) << c.overrides[0] << ": " << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.overrides[0];
      EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.overrides[0];
    }
  }
  // The stage's defaults, and its stop strings bounded.
  v1::JobSpec spec = Minimal();
  spec.mutable_evaluation()->mutable_after_training()->set_data_path("/t.jsonl");
  spec = WithDefaults(spec);
  EXPECT_EQ(spec.evaluation().after_training().max_new_tokens(), 64);
  EXPECT_EQ(spec.evaluation().after_training().bootstrap_resamples(), 2000);
  for (int i = 0; i < 9; ++i) spec.mutable_evaluation()->mutable_after_training()->add_stop("x");
  EXPECT_THAT(ValidateJobSpec(spec).message(), HasSubstr("evaluation.after_training.stop: has 9 entries"));
}

TEST(ValidateJobSpec, Nf4BaseNeedsLoraAndNamesBothFields) {
  v1::JobSpec spec = Minimal();
  ASSERT_TRUE(ApplyJobSpecOverride(spec, "model.quantize=nf4").ok());
  EXPECT_EQ(spec.model().quantize(), v1::BASE_QUANTIZATION_NF4);
  absl::Status s = ValidateJobSpec(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model.quantize"));
  EXPECT_THAT(s.message(), HasSubstr("method.type"));
  ASSERT_TRUE(ApplyJobSpecOverride(spec, "method.type=lora").ok());
  EXPECT_TRUE(ValidateJobSpec(WithDefaults(spec)).ok()) << ValidateJobSpec(WithDefaults(spec));
  v1::JobSpec none = Minimal();
  ASSERT_TRUE(ApplyJobSpecOverride(none, "model.quantize=none").ok());
  EXPECT_TRUE(ValidateJobSpec(none).ok());  // full fine-tuning over an unquantised base
  none.mutable_model()->set_quantize(static_cast<v1::BaseQuantization>(9));
  EXPECT_THAT(ValidateJobSpec(none).message(), HasSubstr("model.quantize"));
}

TEST(ValidateJobSpec, UnknownLoraModuleIsNamed) {
  v1::JobSpec spec = Minimal();
  ASSERT_TRUE(ApplyJobSpecOverride(spec, "method.type=lora").ok());
  ASSERT_TRUE(ApplyJobSpecOverride(spec, "method.lora.target_modules=[attn]").ok());
  spec = WithDefaults(spec);
  absl::Status s = ValidateJobSpec(spec);
  EXPECT_THAT(s.message(), HasSubstr("unknown module 'attn'"));
}

// One class of hostile value each: every float field refuses NaN and both
// infinities, naming the field.
TEST(ValidateJobSpec, NonFiniteFloatsAreRefusedByName) {
  struct Field {
    const char* name;
    std::function<void(v1::JobSpec&, double)> set;
  };
  const Field fields[] = {
      {"dataset.validation_fraction", [](v1::JobSpec& s, double v) { s.mutable_dataset()->set_validation_fraction(v); }},
      {"method.lora.alpha", [](v1::JobSpec& s, double v) { s.mutable_method()->mutable_lora()->set_alpha(v); }},
      {"method.lora.dropout", [](v1::JobSpec& s, double v) { s.mutable_method()->mutable_lora()->set_dropout(v); }},
      {"hyperparameters.learning_rate", [](v1::JobSpec& s, double v) { s.mutable_hyperparameters()->set_learning_rate(v); }},
      {"hyperparameters.min_lr_ratio", [](v1::JobSpec& s, double v) { s.mutable_hyperparameters()->set_min_lr_ratio(v); }},
      {"hyperparameters.epochs", [](v1::JobSpec& s, double v) { s.mutable_hyperparameters()->set_epochs(v); }},
      {"hyperparameters.weight_decay", [](v1::JobSpec& s, double v) { s.mutable_hyperparameters()->set_weight_decay(v); }},
      {"hyperparameters.adam_beta1", [](v1::JobSpec& s, double v) { s.mutable_hyperparameters()->set_adam_beta1(v); }},
      {"hyperparameters.adam_beta2", [](v1::JobSpec& s, double v) { s.mutable_hyperparameters()->set_adam_beta2(v); }},
      {"hyperparameters.adam_epsilon", [](v1::JobSpec& s, double v) { s.mutable_hyperparameters()->set_adam_epsilon(v); }},
      {"hyperparameters.max_grad_norm", [](v1::JobSpec& s, double v) { s.mutable_hyperparameters()->set_max_grad_norm(v); }},
  };
  const double bad[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity()};
  for (const Field& f : fields) {
    for (double v : bad) {
      v1::JobSpec spec = Minimal();
      spec.mutable_method()->set_type(v1::FINE_TUNE_METHOD_LORA);
      spec.mutable_export_()->set_format(v1::EXPORT_FORMAT_PEFT_ADAPTER);
      spec = WithDefaults(spec);
      ASSERT_TRUE(ValidateJobSpec(spec).ok());
      f.set(spec, v);
      const absl::Status s = ValidateJobSpec(spec);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << f.name << " = " << v;
      EXPECT_THAT(s.message(), HasSubstr(f.name)) << v;
      EXPECT_THAT(s.message(), HasSubstr("finite")) << f.name;
    }
  }
}

TEST(ValidateJobSpec, InfinityEpochsFromYamlIsRefused) {
  auto spec = ParseJobSpec("model: {path: m}\ndataset: {path: d}\nhyperparameters: {epochs: Infinity}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const absl::Status s = ValidateJobSpec(WithDefaults(*spec));
  EXPECT_THAT(s.message(), HasSubstr("hyperparameters.epochs"));
}

// Values that are well-formed but absurd: each past its documented limit.
TEST(ValidateJobSpec, HugeValuesAreRefusedByName) {
  struct Case {
    const char* override_;
    const char* field;
  };
  const Case cases[] = {
      {"hyperparameters.max_steps=9223372036854775807", "hyperparameters.max_steps"},
      {"hyperparameters.max_steps=1000000001", "hyperparameters.max_steps"},
      {"hyperparameters.epochs=1e300", "hyperparameters.epochs"},
      {"hyperparameters.warmup_steps=2000000000", "hyperparameters.warmup_steps"},
      {"hyperparameters.micro_batch_size=100000", "hyperparameters.micro_batch_size"},
      {"hyperparameters.sequence_length=2000000", "hyperparameters.sequence_length"},
      {"hyperparameters.weight_decay=1e9", "hyperparameters.weight_decay"},
      {"hyperparameters.max_grad_norm=1e300", "hyperparameters.max_grad_norm"},
      {"hyperparameters.adam_epsilon=5", "hyperparameters.adam_epsilon"},
      {"priority=2000000000", "priority"},
      {"parallelism.collective_timeout_seconds=2000000000", "parallelism.collective_timeout_seconds"},
      {"checkpoint.interval_steps=9223372036854775807", "checkpoint.interval_steps"},
      {"checkpoint.interval_seconds=9223372036854775807", "checkpoint.interval_seconds"},
      {"restart.max_restarts=2000000000", "restart.max_restarts"},
      {"evaluation.interval_steps=9223372036854775807", "evaluation.interval_steps"},
      {"evaluation.max_batches=2000000000", "evaluation.max_batches"},
  };
  for (const Case& c : cases) {
    v1::JobSpec spec = Minimal();
    ASSERT_TRUE(ApplyJobSpecOverride(spec, c.override_).ok()) << c.override_;
    const absl::Status s = ValidateJobSpec(spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.override_;
    EXPECT_THAT(s.message(), HasSubstr(c.field)) << c.override_;
  }
  // Each limit itself is accepted.
  v1::JobSpec at_limit = Minimal();
  at_limit.mutable_hyperparameters()->set_max_steps(job_spec_limits::kMaxSteps);
  at_limit.mutable_hyperparameters()->set_epochs(job_spec_limits::kMaxEpochs);
  EXPECT_TRUE(ValidateJobSpec(at_limit).ok());
}

TEST(ValidateJobSpec, LoraBoundsAndUnknownEnumsAreRefusedByName) {
  v1::JobSpec spec = Minimal();
  spec.mutable_method()->set_type(v1::FINE_TUNE_METHOD_LORA);
  spec.mutable_export_()->set_format(v1::EXPORT_FORMAT_PEFT_ADAPTER);
  spec = WithDefaults(spec);
  v1::JobSpec huge_rank = spec;
  huge_rank.mutable_method()->mutable_lora()->set_rank(1 << 20);
  EXPECT_THAT(ValidateJobSpec(huge_rank).message(), HasSubstr("method.lora.rank"));
  v1::JobSpec many_modules = spec;
  for (int i = 0; i < 8; ++i) many_modules.mutable_method()->mutable_lora()->add_target_modules("q_proj");
  EXPECT_THAT(ValidateJobSpec(many_modules).message(), HasSubstr("method.lora.target_modules"));
  v1::JobSpec unknown_enum = spec;
  unknown_enum.mutable_hyperparameters()->set_lr_schedule(static_cast<v1::LrSchedule>(99));
  EXPECT_THAT(ValidateJobSpec(unknown_enum).message(), HasSubstr("hyperparameters.lr_schedule"));
}

TEST(ValidateJobSpec, OversizedStringsAndSpecAreRefused) {
  v1::JobSpec long_path = Minimal();
  long_path.mutable_model()->set_path(std::string(job_spec_limits::kMaxPathBytes + 1, 'a'));
  EXPECT_THAT(ValidateJobSpec(long_path).message(), HasSubstr("model.path"));
  v1::JobSpec long_name = Minimal();
  long_name.set_display_name(std::string(job_spec_limits::kMaxDisplayNameBytes + 1, 'n'));
  EXPECT_THAT(ValidateJobSpec(long_name).message(), HasSubstr("display_name"));
  v1::JobSpec nul = Minimal();
  nul.mutable_dataset()->set_path(std::string("/d\0x", 4));
  EXPECT_THAT(ValidateJobSpec(nul).message(), HasSubstr("dataset.path"));
  // Within every per-field limit, over the whole-spec limit: many module
  // names are the one repeated field a spec has.
  v1::JobSpec big = Minimal();
  big.mutable_method()->set_type(v1::FINE_TUNE_METHOD_LORA);
  for (int i = 0; i < 20000; ++i) big.mutable_method()->mutable_lora()->add_target_modules("q_proj");
  const absl::Status s = ValidateJobSpec(WithDefaults(big));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("whole spec"));
  EXPECT_THAT(s.message(), HasSubstr("65536"));
  // The text of a spec file, before it is parsed at all.
  auto text = ParseJobSpec("model: {path: m}\n#" + std::string(job_spec_limits::kMaxSpecTextBytes, 'c'), "big.yaml");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.status().message(), HasSubstr("big.yaml"));
  EXPECT_THAT(text.status().message(), HasSubstr("more than the limit of 1048576"));
}

// fuzz/corpus/job_spec_proto/crash-9e1eee34...: WithDefaults multiplied a
// client's micro_batch_size and world_size as int32s (undefined overflow)
// before validation had seen them. Now the product is int64, and a spec
// like that is refused by name.
TEST(WithDefaults, HugeBatchTimesWorldSizeDoesNotOverflow) {
  v1::JobSpec spec;
  spec.mutable_model()->set_path("/m");
  spec.mutable_dataset()->set_path("/d.jsonl");
  spec.mutable_hyperparameters()->set_micro_batch_size(std::numeric_limits<int32_t>::max());
  spec.mutable_resources()->set_world_size(4096);
  const v1::JobSpec defaulted = WithDefaults(spec);
  EXPECT_EQ(defaulted.hyperparameters().global_batch_size(), 0);
  EXPECT_THAT(ValidateJobSpec(defaulted).message(), HasSubstr("hyperparameters.micro_batch_size"));
  spec.mutable_hyperparameters()->set_micro_batch_size(-1826206567);
  spec.mutable_resources()->set_world_size(2);
  EXPECT_EQ(ValidateJobSpec(WithDefaults(spec)).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tunefleet
