#include "coordinator/metrics/task_progress.h"

#include <cmath>
#include <string>

#include "absl/strings/match.h"
#include "common/job_spec_limits.h"
#include "common/job_spec_task_validation.h"
#include "common/metric_keys.h"

namespace tunefleet::coordinator {
namespace {

// The task's entry; null for a name the spec does not give.
v1::TaskProgress* TaskOf(v1::JobProgress& progress, const std::string& name) {
  for (v1::TaskProgress& task : *progress.mutable_tasks()) {
    if (task.name() == name) return &task;
  }
  return nullptr;
}

// One entry per task of the spec, in its order, made once: a sample's
// fields come in no particular order.
void AddSpecTasks(const v1::DatasetSpec& dataset, v1::JobProgress& progress) {
  if (progress.tasks_size() > 0) return;
  for (const v1::DatasetTask& spec_task : dataset.tasks()) {
    if (!IsValidTaskName(spec_task.name()) || progress.tasks_size() >= job_spec_limits::kMaxDatasetTasks) continue;
    v1::TaskProgress* task = progress.add_tasks();
    task->set_name(spec_task.name());
    task->set_counted_step(-1);
  }
}

// A count from a worker's double, checked before the cast.
int64_t CountOf(double v) { return std::isfinite(v) && v >= 0 && v < 1e15 ? static_cast<int64_t>(v) : 0; }

}  // namespace

void AddTaskFigures(const v1::MetricSample& sample, const v1::DatasetSpec& dataset, v1::JobProgress& progress) {
  const bool step_line = sample.event() == metric_keys::kStepEvent;
  const bool eval_line = sample.event() == metric_keys::kEvalEvent;
  if (!step_line && !eval_line) return;
  AddSpecTasks(dataset, progress);
  // Counts of this step go in once per task, after every field was read.
  for (const auto& entry : sample.values()) {
    const std::string& key = entry.first;
    const double value = entry.second;
    auto field = [&key](const char* prefix, std::string& name) {
      if (!absl::StartsWith(key, prefix)) return false;
      name = key.substr(std::string(prefix).size());
      return true;
    };
    std::string name;
    if (step_line && field(metric_keys::kTaskTrainLossPrefix, name)) {
      if (v1::TaskProgress* task = TaskOf(progress, name); task != nullptr && std::isfinite(value)) {
        task->set_train_loss(value);
      }
    } else if (step_line && (field(metric_keys::kTaskTokensPrefix, name) || field(metric_keys::kTaskExamplesPrefix, name))) {
      v1::TaskProgress* task = TaskOf(progress, name);
      if (task == nullptr || sample.step() <= task->counted_step()) continue;
      if (absl::StartsWith(key, metric_keys::kTaskTokensPrefix)) {
        task->set_tokens(task->tokens() + CountOf(value));
      } else {
        task->set_examples(task->examples() + CountOf(value));
      }
    } else if (eval_line && field(metric_keys::kTaskEvalLossPrefix, name)) {
      if (v1::TaskProgress* task = TaskOf(progress, name); task != nullptr && std::isfinite(value)) {
        task->set_eval_loss(value);
      }
    } else if (eval_line && field(metric_keys::kTaskMixProbabilityPrefix, name)) {
      if (v1::TaskProgress* task = TaskOf(progress, name); task != nullptr && std::isfinite(value)) {
        task->set_mix_probability(value);
      }
    }
  }
  if (!step_line) return;
  for (v1::TaskProgress& task : *progress.mutable_tasks()) {
    const bool reported = sample.values().count(metric_keys::kTaskTokensPrefix + task.name()) > 0;
    if (reported && sample.step() > task.counted_step()) task.set_counted_step(sample.step());
  }
}

}  // namespace tunefleet::coordinator
