#include "trainer/tools/compare_command.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "trainer/data/jsonl_reader.h"
#include "trainer/eval/completion_loss.h"
#include "trainer/eval/exact_match.h"
#include "trainer/eval/paired_comparison.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/hf_io/hf_model_loader.h"

namespace tunefleet {
namespace {

struct Scored {
  ExactMatchResult match;
  std::vector<double> losses;
};

// One model at a time, so the two never share memory.
absl::StatusOr<Scored> Score(const std::string& model_dir, const std::string& adapter_dir,
                             const GenerationFormat& format, const std::vector<PromptAndAnswer>& examples) {
  auto tokenizer = LoadBaseTokenizer(model_dir);
  if (!tokenizer.ok()) return tokenizer.status();
  auto model = LoadBaseModel(model_dir);
  if (!model.ok()) return model.status();
  if (!adapter_dir.empty()) {
    if (auto s = LoadPeftAdapter(**model, adapter_dir); !s.ok()) return s;
  }
  Scored scored;
  auto match = EvaluateExactMatch(**model, **tokenizer, format, examples);
  if (!match.ok()) return match.status();
  scored.match = *std::move(match);
  auto losses = CompletionLosses(**model, **tokenizer, format, examples);
  if (!losses.ok()) return losses.status();
  scored.losses = *std::move(losses);
  return scored;
}

struct Row {
  std::string task;
  std::string metric;
  std::string unit;  // "%" for rates (shown x100), "" for losses
  PairedDifference d;
};

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
  auto records = ReadJsonlFile(options.common.data_path, v1::DATASET_FORMAT_PROMPT_COMPLETION);
  if (!records.ok()) return records.status();
  std::vector<PromptAndAnswer> examples;
  std::vector<std::string> tasks;
  for (const auto& record : *records) {
    if (options.common.limit > 0 && static_cast<int>(examples.size()) >= options.common.limit) break;
    examples.push_back({record.prompt, record.completion});
    tasks.push_back(record.task.empty() ? "all" : record.task);
  }
  if (examples.empty()) return absl::InvalidArgumentError(absl::StrCat(options.common.data_path, ": no examples"));
  const std::string candidate_model = options.candidate_model.empty() ? options.baseline_model : options.candidate_model;
  auto baseline = Score(options.baseline_model, options.baseline_adapter, *format, examples);
  if (!baseline.ok()) return absl::Status(baseline.status().code(), absl::StrCat("baseline: ", baseline.status().message()));
  auto candidate = Score(candidate_model, options.candidate_adapter, *format, examples);
  if (!candidate.ok()) {
    return absl::Status(candidate.status().code(), absl::StrCat("candidate: ", candidate.status().message()));
  }

  // Each task, then all together when there are several.
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < tasks.size(); ++i) groups[tasks[i]].push_back(i);
  if (groups.size() > 1) {
    auto& every = groups["(all tasks)"];
    for (size_t i = 0; i < tasks.size(); ++i) every.push_back(i);
  }
  BootstrapOptions bootstrap;
  bootstrap.resamples = options.resamples;
  bootstrap.confidence = options.confidence;
  bootstrap.seed = options.seed;
  std::vector<Row> rows;
  for (const auto& [task, members] : groups) {
    std::vector<double> match_a, match_b, json_a, json_b, valid_a, valid_b, loss_a, loss_b;
    for (size_t i : members) {
      const ExampleScore& a = baseline->match.per_example[i];
      const ExampleScore& b = candidate->match.per_example[i];
      match_a.push_back(a.correct ? 1 : 0);
      match_b.push_back(b.correct ? 1 : 0);
      if (a.json_fields >= 0) {  // the same expected answer, so b's is too
        json_a.push_back(a.json_fields);
        json_b.push_back(b.json_fields);
        valid_a.push_back(a.json_valid ? 1 : 0);
        valid_b.push_back(b.json_valid ? 1 : 0);
      }
      loss_a.push_back(baseline->losses[i]);
      loss_b.push_back(candidate->losses[i]);
    }
    const auto add = [&](const char* metric, const char* unit, const std::vector<double>& a,
                         const std::vector<double>& b) -> absl::Status {
      if (a.empty()) return absl::OkStatus();
      auto d = ComparePaired(a, b, bootstrap);
      if (!d.ok()) return d.status();
      rows.push_back({task, metric, unit, *d});
      return absl::OkStatus();
    };
    if (auto s = add("exact match", "%", match_a, match_b); !s.ok()) return s;
    if (auto s = add("valid JSON", "%", valid_a, valid_b); !s.ok()) return s;
    if (auto s = add("JSON field accuracy", "%", json_a, json_b); !s.ok()) return s;
    if (auto s = add("answer loss (nats/token)", "", loss_a, loss_b); !s.ok()) return s;
  }
  std::vector<size_t> differing;
  for (size_t i = 0; i < examples.size(); ++i) {
    if (baseline->match.per_example[i].reply != candidate->match.per_example[i].reply) differing.push_back(i);
  }

  const std::string baseline_name = Name(options.baseline_model, options.baseline_adapter);
  const std::string candidate_name = Name(candidate_model, options.candidate_adapter);
  if (options.output == "json") {
    nlohmann::json out = {{"data", options.common.data_path},
                          {"examples", examples.size()},
                          {"baseline", baseline_name},
                          {"candidate", candidate_name},
                          {"bootstrap", {{"resamples", options.resamples}, {"confidence", options.confidence},
                                         {"seed", options.seed}}},
                          {"rows", nlohmann::json::array()},
                          {"differing_examples", differing.size()},
                          {"shown", nlohmann::json::array()}};
    for (const Row& r : rows) {
      out["rows"].push_back({{"task", r.task}, {"metric", r.metric}, {"n", r.d.n}, {"baseline", r.d.baseline_mean},
                             {"candidate", r.d.candidate_mean}, {"difference", r.d.difference},
                             {"ci_low", r.d.ci_low}, {"ci_high", r.d.ci_high}});
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
  std::printf("A/B evaluation on %s, %zu examples\n  baseline:  %s\n  candidate: %s\n", options.common.data_path.c_str(),
              examples.size(), baseline_name.c_str(), candidate_name.c_str());
  std::printf("  intervals: %.0f%%, paired bootstrap, %d resamples, seed %llu\n\n", 100 * options.confidence,
              options.resamples, static_cast<unsigned long long>(options.seed));
  std::printf("| task | metric | n | baseline | candidate | difference | %.0f%% interval |\n", 100 * options.confidence);
  std::printf("| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
  for (const Row& r : rows) {
    const bool rate = r.unit == "%";
    const auto value = [rate](double x) { return rate ? absl::StrFormat("%.1f%%", 100 * x) : absl::StrFormat("%.4f", x); };
    const auto delta = [rate](double x) { return rate ? absl::StrFormat("%+.1f", 100 * x) : absl::StrFormat("%+.4f", x); };
    std::printf("| %s | %s | %lld | %s | %s | %s%s | [%s, %s] |\n", r.task.c_str(), r.metric.c_str(),
                static_cast<long long>(r.d.n), value(r.d.baseline_mean).c_str(), value(r.d.candidate_mean).c_str(),
                delta(r.d.difference).c_str(), rate ? " pts" : "", delta(r.d.ci_low).c_str(), delta(r.d.ci_high).c_str());
  }
  std::printf("\nthe two answer differently on %zu of %zu examples", differing.size(), examples.size());
  std::printf(differing.empty() || options.show <= 0 ? "\n" : "; the first %d:\n",
              std::min<int>(options.show, static_cast<int>(differing.size())));
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
