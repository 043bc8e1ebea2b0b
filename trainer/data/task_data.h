#pragma once
// A multi-task job's data (DatasetSpec.tasks): each task read, split,
// tokenized (with its own format and chat template) and packed on its own
// by LoadTrainingData, so that every packed sequence belongs to one task.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/data/data_pipeline.h"
#include "trainer/tokenizer/tokenizer.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

struct TaskTrainingData {
  std::string name;
  double weight = 1;       // STATIC sampling weight
  double loss_weight = 1;  // scales the task's token losses in the optimised loss
  TrainingData data;
};

// The pipeline options of task `index` of `dataset` (defaults applied):
// the dataset's packing and the job's sequence length; a seed of its own.
DataPipelineOptions TaskPipelineOptions(const v1::DatasetSpec& dataset, int index, const v1::HyperParameters& hp);

// Every task of `dataset`, in spec order. Errors are LoadTrainingData's,
// prefixed with "task <name>: ".
absl::StatusOr<std::vector<TaskTrainingData>> LoadTaskData(const v1::DatasetSpec& dataset,
                                                            const v1::HyperParameters& hp, const Tokenizer& tokenizer);

// One paragraph for the trainer's log: each task's summary.
std::string TasksSummary(const std::vector<TaskTrainingData>& tasks, const std::vector<double>& probabilities);

}  // namespace tunefleet
