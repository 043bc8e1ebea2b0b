#include "trainer/tools/compare_command.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "trainer/eval/model_comparison.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/hf_io/hf_model_loader.h"

namespace tunefleet {
namespace {

// One model at a time, so the two never share memory.
absl::StatusOr<ScoredModel> Score(const std::string& model_dir, const std::string& adapter_dir,
                                  const GenerationFormat& format, const std::vector<PromptAndAnswer>& examples) {
  auto tokenizer = LoadBaseTokenizer(model_dir);
  if (!tokenizer.ok()) return tokenizer.status();
  auto model = LoadBaseModel(model_dir);
  if (!model.ok()) return model.status();
  if (!adapter_dir.empty()) {
    if (auto s = LoadPeftAdapter(**model, adapter_dir); !s.ok()) return s;
  }
  return ScoreModel(**model, **tokenizer, format, examples);
}

std::string Name(const std::string& model, const std::string& adapter) {
  return adapter.empty() ? model : absl::StrCat(model, " + ", adapter);
}

std::string OneLine(const std::string& text) { return absl::StrReplaceAll(text, {{"\n", "\\n"}}); }

}  // namespace

void AddCompareOptions(CLI::App& command, CompareOptions& options) {
  command.add_option("--baseline-model", options.baseline_model, "The baseline: a Hugging Face folder or GGUF file")
      ->required();
  command.add_option("--baseline-adapter", options.baseline_adapter, "A PEFT adapter on the baseline");
  command.add_option("--candidate-model", options.candidate_model, "The candidate (default: the baseline's model)");
  command.add_option("--candidate-adapter", options.candidate_adapter, "A PEFT adapter on the candidate's model");
  command.add_option("--data", options.common.data_path, "Held-out JSONL of {\"prompt\", \"completion\"[, \"task\"]}")
      ->required();
  command.add_option("--chat-template", options.common.chat_template, "chatml, llama3, or none")->capture_default_str();
  command.add_option("--system", options.common.system, "A system message before every prompt (chat templates)");
  command.add_option("--stop", options.common.stop, "The reply ends before this text (repeatable)");
  command.add_option("--max-new-tokens", options.common.max_new_tokens, "Reply length cap")->capture_default_str();
  command.add_option("--batch-size", options.common.batch_size, "Prompts generated together")->capture_default_str();
  command.add_option("--limit", options.common.limit, "The first N examples only (0: all)");
  command.add_option("--resamples", options.resamples, "Bootstrap resamples")->capture_default_str();
  command.add_option("--confidence", options.confidence, "Interval coverage")->capture_default_str();
  command.add_option("--seed", options.seed, "Bootstrap seed (the same seed, the same interval)")->capture_default_str();
  command.add_option("--show", options.show, "Examples where the two differ, to print")->capture_default_str();
  command.add_option("-o,--output", options.output, "table or json")->capture_default_str();
}

absl::Status RunCompare(const CompareOptions& options) {
  if (options.output != "table" && options.output != "json") {
    return absl::InvalidArgumentError(absl::StrCat("-o: unknown '", options.output, "' (table or json)"));
  }
  auto format = GenerationFormatFrom(options.common);
  if (!format.ok()) return format.status();
  auto read = ReadComparisonExamples(options.common.data_path, options.common.limit);
  if (!read.ok()) return read.status();
  const std::vector<PromptAndAnswer>& examples = read->examples;
  const std::vector<std::string>& tasks = read->tasks;
  const std::string candidate_model = options.candidate_model.empty() ? options.baseline_model : options.candidate_model;
  auto baseline = Score(options.baseline_model, options.baseline_adapter, *format, examples);
  if (!baseline.ok()) return absl::Status(baseline.status().code(), absl::StrCat("baseline: ", baseline.status().message()));
  auto candidate = Score(candidate_model, options.candidate_adapter, *format, examples);
  if (!candidate.ok()) {
    return absl::Status(candidate.status().code(), absl::StrCat("candidate: ", candidate.status().message()));
  }
  BootstrapOptions bootstrap;
  bootstrap.resamples = options.resamples;
  bootstrap.confidence = options.confidence;
  bootstrap.seed = options.seed;
  auto compared = ComparePairedScores(*read, *baseline, *candidate, bootstrap);
  if (!compared.ok()) return compared.status();
  v1::JobEvaluation& evaluation = *compared;
  evaluation.set_baseline(Name(options.baseline_model, options.baseline_adapter));
  evaluation.set_candidate(Name(candidate_model, options.candidate_adapter));
  const std::vector<size_t> differing = DifferingExamples(*baseline, *candidate);

  if (options.output == "json") {
    nlohmann::json out = {{"data", options.common.data_path},
                          {"examples", examples.size()},
                          {"baseline", evaluation.baseline()},
                          {"candidate", evaluation.candidate()},
                          {"bootstrap", {{"resamples", options.resamples}, {"confidence", options.confidence},
                                         {"seed", options.seed}}},
                          {"rows", nlohmann::json::array()},
                          {"differing_examples", differing.size()},
                          {"shown", nlohmann::json::array()}};
    for (const auto& r : evaluation.rows()) {
      out["rows"].push_back({{"task", r.task()}, {"metric", r.metric()}, {"n", r.n()}, {"baseline", r.baseline()},
                             {"candidate", r.candidate()}, {"difference", r.difference()},
                             {"ci_low", r.ci_low()}, {"ci_high", r.ci_high()}});
    }
    for (size_t k = 0; k < differing.size() && static_cast<int>(k) < options.show; ++k) {
      const size_t i = differing[k];
      out["shown"].push_back({{"task", tasks[i]}, {"prompt", examples[i].prompt}, {"expected", examples[i].answer},
                              {"baseline", baseline->match.per_example[i].reply},
                              {"candidate", candidate->match.per_example[i].reply}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("%s", ComparisonTable(evaluation, /*show=*/0).c_str());  // whole examples below
  std::printf("  intervals: paired bootstrap, %d resamples, seed %llu\n", options.resamples,
              static_cast<unsigned long long>(options.seed));
  if (!differing.empty() && options.show > 0) {
    std::printf("the first %d where they differ:\n", std::min<int>(options.show, static_cast<int>(differing.size())));
  }
  for (size_t k = 0; k < differing.size() && static_cast<int>(k) < options.show; ++k) {
    const size_t i = differing[k];
    std::printf("  [%s] prompt:    %s\n    expected:  %s\n    baseline:  %s\n    candidate: %s\n", tasks[i].c_str(),
                OneLine(examples[i].prompt).c_str(), OneLine(examples[i].answer).c_str(),
                OneLine(baseline->match.per_example[i].reply).c_str(),
                OneLine(candidate->match.per_example[i].reply).c_str());
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
