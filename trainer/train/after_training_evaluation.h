#pragma once
// A job's evaluation stage (spec.evaluation.after_training), run by rank 0
// once the model is trained and exported: the trained model, as it is in
// memory, against the baseline (the base model by default, loaded again
// from disk), on held-out prompts, as `tunefleet eval` does it
// (trainer/eval/model_comparison.h). The examples are read before training,
// so a bad file fails the job at its start, not after hours of training.
// In a multi-task job an example whose "task" names one of the job's tasks
// is prompted as that task was trained (its format and chat template).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/eval/model_comparison.h"
#include "trainer/model/llama_model.h"
#include "trainer/tokenizer/tokenizer.h"
#include "tunefleet/v1/job.pb.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

class AfterTrainingEvaluation {
 public:
  // Reads the examples. `data_format`: the training data's (detected)
  // format: chat data is prompted in its chat template, other data as raw
  // text; `task_formats`: each task's, in spec order (multi-task jobs).
  // Call on rank 0 only, with defaults applied to `spec`.
  static absl::StatusOr<std::unique_ptr<AfterTrainingEvaluation>> Prepare(
      const v1::JobSpec& spec, v1::DatasetFormat data_format,
      const std::vector<v1::DatasetFormat>& task_formats = {});

  // Scores the baseline, then `trained` (its LoRA, if any, merged or not:
  // the same function), and compares them. The baseline is moved to the
  // trained model's device and dtype, and freed before `trained` is scored.
  absl::StatusOr<v1::JobEvaluation> Run(CausalLM& trained, const Tokenizer& trained_tokenizer) const;

 private:
  AfterTrainingEvaluation(const v1::JobSpec& spec, GenerationFormat format,
                          std::map<std::string, GenerationFormat> task_formats, ComparisonExamples examples)
      : spec_(spec),
        format_(std::move(format)),
        task_formats_(std::move(task_formats)),
        examples_(std::move(examples)) {}

  // Every example scored by `model`, each in its task's format.
  absl::StatusOr<ScoredModel> Score(CausalLM& model, const Tokenizer& tokenizer) const;

  v1::JobSpec spec_;
  GenerationFormat format_;                               // examples of no task of the job
  std::map<std::string, GenerationFormat> task_formats_;  // by task name (multi-task)
  ComparisonExamples examples_;
};

}  // namespace tunefleet
