#pragma once
// A/B evaluation of two models on the same held-out prompts: each model is
// scored (greedy replies: exact match, JSON validity and field accuracy;
// the expected answer's loss), then the paired differences per task and
// over all tasks, with bootstrap intervals (paired_comparison.h). Shared by
// `tunefleet-trainer compare` and a job's after-training evaluation.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/eval/exact_match.h"
#include "trainer/eval/paired_comparison.h"
#include "trainer/model/llama_model.h"
#include "trainer/tokenizer/tokenizer.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet {

struct ComparisonExamples {
  std::string path;
  std::vector<PromptAndAnswer> examples;
  std::vector<std::string> tasks;  // each example's "task", or "all"
};

// The first `limit` records (0: all) of a prompt/completion JSONL file.
// INVALID_ARGUMENT for a file with no examples; the reader's errors name
// the file and line.
absl::StatusOr<ComparisonExamples> ReadComparisonExamples(const std::string& path, int limit);

// One model's answers and answer losses, in the examples' order.
struct ScoredModel {
  ExactMatchResult match;
  std::vector<double> losses;
};
absl::StatusOr<ScoredModel> ScoreModel(CausalLM& model, const Tokenizer& tokenizer, const GenerationFormat& format,
                                       const std::vector<PromptAndAnswer>& examples);

// The rows (per task, then "(all tasks)" when there are several; exact
// match, valid JSON and JSON field accuracy where answers are JSON objects,
// answer loss) and the count of examples answered differently. Names and
// data_path are left to the caller.
absl::StatusOr<v1::JobEvaluation> ComparePairedScores(const ComparisonExamples& examples, const ScoredModel& baseline,
                                                      const ScoredModel& candidate, const BootstrapOptions& bootstrap);

// Indices of the examples the two answer differently.
std::vector<size_t> DifferingExamples(const ScoredModel& baseline, const ScoredModel& candidate);

// The evaluation as a Markdown table with a short header, for logs and
// terminals, then up to `show` of its differing examples.
std::string ComparisonTable(const v1::JobEvaluation& evaluation, int show);

}  // namespace tunefleet
