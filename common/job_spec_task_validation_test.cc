#include "common/job_spec_task_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/job_spec_defaults.h"
#include "common/job_spec_file.h"
#include "common/job_spec_paths.h"
#include "common/job_spec_validation.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

v1::JobSpec TwoTasks() {
  v1::JobSpec spec;
  spec.mutable_model()->set_path("/m");
  v1::DatasetTask* a = spec.mutable_dataset()->add_tasks();
  a->set_name("math");
  a->set_path("/math.jsonl");
  v1::DatasetTask* b = spec.mutable_dataset()->add_tasks();
  b->set_name("chat-v2");
  b->set_path("/chat.jsonl");
  b->set_validation_fraction(0.1);
  return spec;
}

std::string ErrorOf(const v1::JobSpec& spec) { return std::string(ValidateJobSpec(WithDefaults(spec)).message()); }

TEST(DatasetTasksValidation, ATwoTaskSpecIsValidWithItsDefaults) {
  const v1::JobSpec spec = WithDefaults(TwoTasks());
  EXPECT_TRUE(ValidateJobSpec(spec).ok()) << ValidateJobSpec(spec);
  EXPECT_EQ(spec.dataset().tasks(0).weight(), 1);
  EXPECT_EQ(spec.dataset().tasks(0).loss_weight(), 1);
  EXPECT_EQ(spec.dataset().tasks(0).chat_template(), v1::CHAT_TEMPLATE_CHATML);
  EXPECT_EQ(spec.dataset().mixing().strategy(), v1::TASK_MIXING_STRATEGY_STATIC);
  EXPECT_EQ(spec.dataset().mixing().temperature(), 1);
  EXPECT_EQ(spec.dataset().mixing().min_probability(), 0);  // only the dynamic scheme has a floor
}

TEST(DatasetTasksValidation, PathAndTasksAreExclusive) {
  v1::JobSpec spec = TwoTasks();
  spec.mutable_dataset()->set_path("/d.jsonl");
  EXPECT_THAT(ErrorOf(spec), HasSubstr("dataset.path: is exclusive with dataset.tasks"));
  spec = TwoTasks();
  spec.mutable_dataset()->set_validation_fraction(0.1);
  EXPECT_THAT(ErrorOf(spec), HasSubstr("each task sets its own validation_path"));
  spec.mutable_dataset()->clear_tasks();
  spec.mutable_dataset()->set_validation_fraction(0);
  EXPECT_THAT(ErrorOf(spec), HasSubstr("dataset.path: is required (a JSONL file), or else dataset.tasks"));
}

TEST(DatasetTasksValidation, EachErrorNamesTheTaskField) {
  struct Case {
    void (*mutate)(v1::JobSpec&);
    const char* message;
  };
  const Case cases[] = {
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_tasks(1)->set_name("bad name"); }, "dataset.tasks[1].name"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_tasks(1)->set_name(std::string(33, 'x')); },
       "dataset.tasks[1].name"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_tasks(1)->set_name("math"); }, "\"math\" is used twice"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_tasks(0)->clear_path(); }, "dataset.tasks[0].path: is required"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_tasks(0)->set_validation_fraction(0.6); },
       "dataset.tasks[0].validation_fraction"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_tasks(0)->set_weight(-1); }, "dataset.tasks[0].weight"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_tasks(0)->set_loss_weight(101); },
       "dataset.tasks[0].loss_weight"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_tasks(0)->set_format(static_cast<v1::DatasetFormat>(9)); },
       "dataset.tasks[0].format"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_mixing()->set_temperature(1000); },
       "dataset.mixing.temperature"},
      {[](v1::JobSpec& s) { s.mutable_dataset()->mutable_mixing()->set_min_probability(0.6); },
       "dataset.mixing.min_probability"},
      {[](v1::JobSpec& s) {
         s.mutable_dataset()->mutable_mixing()->set_strategy(v1::TASK_MIXING_STRATEGY_INVERSE_VALIDATION_LOSS);
       },
       "set evaluation.interval_steps"},
      {[](v1::JobSpec& s) {
         s.mutable_dataset()->mutable_mixing()->set_strategy(v1::TASK_MIXING_STRATEGY_INVERSE_VALIDATION_LOSS);
         s.mutable_evaluation()->set_interval_steps(10);
       },
       "task math has no validation data"},
  };
  for (const Case& c : cases) {
    v1::JobSpec spec = TwoTasks();
    c.mutate(spec);
    EXPECT_THAT(ErrorOf(spec), HasSubstr(c.message));
  }
}

TEST(DatasetTasksValidation, AtMostSixteenTasks) {
  v1::JobSpec spec = TwoTasks();
  for (int i = 2; i < 17; ++i) {
    v1::DatasetTask* t = spec.mutable_dataset()->add_tasks();
    t->set_name(absl::StrCat("t", i));
    t->set_path("/t.jsonl");
  }
  EXPECT_THAT(ErrorOf(spec), HasSubstr("has 17 tasks, more than the limit of 16"));
  spec.mutable_dataset()->mutable_tasks()->RemoveLast();
  EXPECT_TRUE(ValidateJobSpec(WithDefaults(spec)).ok());
}

TEST(DatasetTasksValidation, TheDocumentedYamlParsesAndItsTaskPathsResolveAndAreConfined) {
  auto spec = ParseJobSpec(R"(
model: {path: m}
dataset:
  tasks:
    - {name: math, path: math.jsonl, validation_fraction: 0.05}
    - {name: chat, path: /data/chat.jsonl, validation_path: chat_val.jsonl, chat_template: llama3, loss_weight: 0.5}
  mixing: {strategy: temperature, temperature: 2}
)",
                           "spec.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->dataset().tasks_size(), 2);
  EXPECT_EQ(spec->dataset().tasks(1).chat_template(), v1::CHAT_TEMPLATE_LLAMA3);
  EXPECT_EQ(spec->dataset().mixing().strategy(), v1::TASK_MIXING_STRATEGY_TEMPERATURE);
  ResolveJobSpecPaths(*spec, "/specs");
  EXPECT_EQ(spec->dataset().tasks(0).path(), "/specs/math.jsonl");
  EXPECT_EQ(spec->dataset().tasks(1).path(), "/data/chat.jsonl");
  EXPECT_EQ(spec->dataset().tasks(1).validation_path(), "/specs/chat_val.jsonl");
  EXPECT_TRUE(ValidateJobSpec(WithDefaults(*spec)).ok());
  // A task's files are confined like dataset.path, and named by their field.
  const absl::Status confined = CheckPathsUnderRoots(*spec, {"/specs"});
  EXPECT_THAT(std::string(confined.message()), HasSubstr("dataset.tasks[1].path \"/data/chat.jsonl\" is outside"));
}

TEST(DatasetTasksValidation, MixingWithoutTasksIsRefused) {
  v1::JobSpec spec;
  spec.mutable_model()->set_path("/m");
  spec.mutable_dataset()->set_path("/d.jsonl");
  spec.mutable_dataset()->mutable_mixing()->set_strategy(v1::TASK_MIXING_STRATEGY_TEMPERATURE);
  EXPECT_THAT(ErrorOf(spec), HasSubstr("dataset.mixing: needs dataset.tasks"));
}

}  // namespace
}  // namespace tunefleet
