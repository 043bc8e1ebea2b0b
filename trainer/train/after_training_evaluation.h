#pragma once
// A job's evaluation stage (spec.evaluation.after_training), run by rank 0
// once the model is trained and exported: the trained model, as it is in
// memory, against the baseline (the base model by default, loaded again
// from disk), on held-out prompts, as `tunefleet eval` does it
// (trainer/eval/model_comparison.h). The examples are read before training,
// so a bad file fails the job at its start, not after hours of training.

#include <memory>

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
  // text. Call on rank 0 only, with defaults applied to `spec`.
  static absl::StatusOr<std::unique_ptr<AfterTrainingEvaluation>> Prepare(const v1::JobSpec& spec,
                                                                          v1::DatasetFormat data_format);

  // Scores the baseline, then `trained` (its LoRA, if any, merged or not:
  // the same function), and compares them. The baseline is moved to the
  // trained model's device and dtype, and freed before `trained` is scored.
  absl::StatusOr<v1::JobEvaluation> Run(CausalLM& trained, const Tokenizer& trained_tokenizer) const;

 private:
  AfterTrainingEvaluation(const v1::JobSpec& spec, GenerationFormat format, ComparisonExamples examples)
      : spec_(spec), format_(std::move(format)), examples_(std::move(examples)) {}

  v1::JobSpec spec_;
  GenerationFormat format_;
  ComparisonExamples examples_;
};

}  // namespace tunefleet
