#include "trainer/data/task_data.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "trainer/data/shuffle.h"

namespace tunefleet {

DataPipelineOptions TaskPipelineOptions(const v1::DatasetSpec& dataset, int index, const v1::HyperParameters& hp) {
  const v1::DatasetTask& task = dataset.tasks(index);
  DataPipelineOptions o = DataPipelineOptions::FromSpec(dataset, hp);
  o.train_path = task.path();
  o.validation_path = task.validation_path();
  o.validation_fraction = task.validation_fraction();
  o.format = task.format();
  o.tokens.chat_template =
      task.chat_template() != v1::CHAT_TEMPLATE_UNSPECIFIED ? task.chat_template() : dataset.chat_template();
  // Each task its own hold-out and packing order: equal-sized tasks must not
  // share a permutation.
  o.seed = DeriveSeed(hp.seed(), kSeedPurposeTaskEpochOrder, static_cast<uint64_t>(index) + 1);
  return o;
}

absl::StatusOr<std::vector<TaskTrainingData>> LoadTaskData(const v1::DatasetSpec& dataset,
                                                            const v1::HyperParameters& hp,
                                                            const Tokenizer& tokenizer) {
  std::vector<TaskTrainingData> tasks;
  for (int i = 0; i < dataset.tasks_size(); ++i) {
    const v1::DatasetTask& spec = dataset.tasks(i);
    absl::StatusOr<TrainingData> data = LoadTrainingData(TaskPipelineOptions(dataset, i, hp), tokenizer);
    if (!data.ok()) {
      return absl::Status(data.status().code(), absl::StrCat("task ", spec.name(), ": ", data.status().message()));
    }
    TaskTrainingData& task = tasks.emplace_back();
    task.name = spec.name();
    task.weight = spec.weight() > 0 ? spec.weight() : 1.0;
    task.loss_weight = spec.loss_weight() > 0 ? spec.loss_weight() : 1.0;
    task.data = *std::move(data);
  }
  return tasks;
}

std::string TasksSummary(const std::vector<TaskTrainingData>& tasks, const std::vector<double>& probabilities) {
  std::string s = absl::StrCat(tasks.size(), " tasks");
  for (size_t i = 0; i < tasks.size(); ++i) {
    absl::StrAppend(&s, "\n  task ", tasks[i].name, " (mix ",
                    absl::StrFormat("%.3f", i < probabilities.size() ? probabilities[i] : 0.0), ", loss weight ",
                    tasks[i].loss_weight, "): ", tasks[i].data.Summary());
  }
  return s;
}

}  // namespace tunefleet
