#include "coordinator/metrics/task_progress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/metric_keys.h"

namespace tunefleet::coordinator {
namespace {

namespace keys = metric_keys;

v1::MetricSample StepSample(int64_t step, const std::string& task, double loss, double tokens, double examples) {
  v1::MetricSample s;
  s.set_event(keys::kStepEvent);
  s.set_step(step);
  (*s.mutable_values())[keys::kTrainLoss] = loss;
  (*s.mutable_values())[std::string(keys::kTaskTrainLossPrefix) + task] = loss;
  (*s.mutable_values())[std::string(keys::kTaskTokensPrefix) + task] = tokens;
  (*s.mutable_values())[std::string(keys::kTaskExamplesPrefix) + task] = examples;
  return s;
}

v1::DatasetSpec Tasks(const std::vector<std::string>& names) {
  v1::DatasetSpec dataset;
  for (const std::string& name : names) dataset.add_tasks()->set_name(name);
  return dataset;
}

void AddTaskFigures(const v1::MetricSample& sample, v1::JobProgress& p) {
  std::vector<std::string> names = {"math", "chat"};
  for (int i = 0; i < 40; ++i) names.push_back(absl::StrCat("t", i));
  coordinator::AddTaskFigures(sample, Tasks(names), p);
}

TEST(TaskProgressTest, TasksComeInTheSpecsOrderWhateverTheSamplesOrder) {
  v1::JobProgress p;
  coordinator::AddTaskFigures(StepSample(1, "second", 1, 1, 1), Tasks({"first", "second"}), p);
  ASSERT_EQ(p.tasks_size(), 2);
  EXPECT_EQ(p.tasks(0).name(), "first");
  EXPECT_EQ(p.tasks(1).name(), "second");
  EXPECT_EQ(p.tasks(1).tokens(), 1);
  coordinator::AddTaskFigures(StepSample(2, "third", 1, 1, 1), Tasks({"first", "second"}), p);
  EXPECT_EQ(p.tasks_size(), 2) << "a name the spec does not give is ignored";
}

TEST(TaskProgressTest, StepLinesAddCountsOncePerStepAndKeepTheNewestLoss) {
  v1::JobProgress p;
  AddTaskFigures(StepSample(1, "math", 2.5, 100, 3), p);
  AddTaskFigures(StepSample(2, "math", 2.0, 50, 2), p);
  AddTaskFigures(StepSample(1, "chat", 3.0, 10, 1), p);
  AddTaskFigures(StepSample(2, "math", 9.0, 50, 2), p);  // step 2 again (a restart): not counted twice
  EXPECT_EQ(p.tasks(0).name(), "math");
  EXPECT_EQ(p.tasks(0).tokens(), 150);
  EXPECT_EQ(p.tasks(0).examples(), 5);
  EXPECT_EQ(p.tasks(0).train_loss(), 9.0);
  EXPECT_EQ(p.tasks(0).counted_step(), 2);
  EXPECT_EQ(p.tasks(1).name(), "chat");
  EXPECT_EQ(p.tasks(1).tokens(), 10);
}

TEST(TaskProgressTest, EvalLinesSetValidationLossAndMixProbability) {
  v1::JobProgress p;
  v1::MetricSample s;
  s.set_event(keys::kEvalEvent);
  s.set_step(10);
  (*s.mutable_values())[std::string(keys::kTaskEvalLossPrefix) + "math"] = 1.25;
  (*s.mutable_values())[std::string(keys::kTaskMixProbabilityPrefix) + "math"] = 0.7;
  AddTaskFigures(s, p);
  EXPECT_EQ(p.tasks(0).eval_loss(), 1.25);
  EXPECT_EQ(p.tasks(0).mix_probability(), 0.7);
  EXPECT_EQ(p.tasks(0).tokens(), 0);
}

TEST(TaskProgressTest, NamesAndCountAreBounded) {
  v1::JobProgress p;
  AddTaskFigures(StepSample(1, "bad name{}", 1, 1, 1), p);
  EXPECT_EQ(p.tasks_size(), 16) << "the spec's first 16 tasks only";
  for (const auto& task : p.tasks()) EXPECT_EQ(task.tokens(), 0);
  for (int i = 0; i < 40; ++i) AddTaskFigures(StepSample(i + 1, absl::StrCat("t", i), 1, 1, 1), p);
  EXPECT_EQ(p.tasks_size(), 16);
  // A bad figure (NaN, negative) counts nothing.
  AddTaskFigures(StepSample(100, "t0", std::nan(""), -5, std::nan("")), p);
  EXPECT_EQ(p.tasks(2).name(), "t0");
  EXPECT_EQ(p.tasks(2).tokens(), 1);
  EXPECT_EQ(p.tasks(2).train_loss(), 1);
}

}  // namespace
}  // namespace tunefleet::coordinator
