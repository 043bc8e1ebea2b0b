#include "trainer/eval/model_comparison.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/evaluation_report.h"
#include "trainer/data/jsonl_reader.h"
#include "trainer/eval/completion_loss.h"

namespace tunefleet {

absl::StatusOr<ComparisonExamples> ReadComparisonExamples(const std::string& path, int limit) {
  auto records = ReadJsonlFile(path, v1::DATASET_FORMAT_PROMPT_COMPLETION);
  if (!records.ok()) return records.status();
  ComparisonExamples out;
  out.path = path;
  for (const auto& record : *records) {
    if (limit > 0 && static_cast<int>(out.examples.size()) >= limit) break;
    out.examples.push_back({record.prompt, record.completion});
    out.tasks.push_back(record.task.empty() ? "all" : record.task);
  }
  if (out.examples.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no examples"));
  return out;
}

absl::StatusOr<ScoredModel> ScoreModel(CausalLM& model, const Tokenizer& tokenizer, const GenerationFormat& format,
                                       const std::vector<PromptAndAnswer>& examples) {
  ScoredModel scored;
  auto match = EvaluateExactMatch(model, tokenizer, format, examples);
  if (!match.ok()) return match.status();
  scored.match = *std::move(match);
  auto losses = CompletionLosses(model, tokenizer, format, examples);
  if (!losses.ok()) return losses.status();
  scored.losses = *std::move(losses);
  return scored;
}

absl::StatusOr<v1::JobEvaluation> ComparePairedScores(const ComparisonExamples& examples, const ScoredModel& baseline,
                                                      const ScoredModel& candidate,
                                                      const BootstrapOptions& bootstrap) {
  const size_t n = examples.examples.size();
  if (baseline.match.per_example.size() != n || candidate.match.per_example.size() != n ||
      baseline.losses.size() != n || candidate.losses.size() != n) {
    return absl::InternalError("comparing scores of different example sets");
  }
  // Each task, then all together when there are several.
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < n; ++i) groups[examples.tasks[i]].push_back(i);
  if (groups.size() > 1) {
    auto& every = groups[kAllTasksGroup];
    for (size_t i = 0; i < n; ++i) every.push_back(i);
  }
  v1::JobEvaluation out;
  out.set_data_path(examples.path);
  out.set_examples(static_cast<int64_t>(n));
  out.set_confidence(bootstrap.confidence);
  const std::vector<size_t> differing = DifferingExamples(baseline, candidate);
  out.set_differing_examples(static_cast<int64_t>(differing.size()));
  // Cut on a UTF-8 boundary so the report stays valid JSON text.
  const auto cut = [](const std::string& text) {
    if (text.size() <= kMaxEvaluationExampleBytes) return text;
    size_t end = kMaxEvaluationExampleBytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return text.substr(0, end);
  };
  for (size_t k = 0; k < differing.size() && static_cast<int>(k) < kMaxEvaluationExamples; ++k) {
    const size_t i = differing[k];
    v1::JobEvaluation::Example* example = out.add_differing();
    example->set_task(cut(examples.tasks[i]));
    example->set_prompt(cut(examples.examples[i].prompt));
    example->set_expected(cut(examples.examples[i].answer));
    example->set_baseline(cut(baseline.match.per_example[i].reply));
    example->set_candidate(cut(candidate.match.per_example[i].reply));
  }
  for (const auto& [task, members] : groups) {
    std::vector<double> match_a, match_b, json_a, json_b, valid_a, valid_b, loss_a, loss_b;
    for (size_t i : members) {
      const ExampleScore& a = baseline.match.per_example[i];
      const ExampleScore& b = candidate.match.per_example[i];
      match_a.push_back(a.correct ? 1 : 0);
      match_b.push_back(b.correct ? 1 : 0);
      if (a.json_fields >= 0) {  // the same expected answer, so b's is too
        json_a.push_back(a.json_fields);
        json_b.push_back(b.json_fields);
        valid_a.push_back(a.json_valid ? 1 : 0);
        valid_b.push_back(b.json_valid ? 1 : 0);
      }
      loss_a.push_back(baseline.losses[i]);
      loss_b.push_back(candidate.losses[i]);
    }
    const auto add = [&, task = task](const char* metric, const std::vector<double>& a,
                                      const std::vector<double>& b) -> absl::Status {
      if (a.empty()) return absl::OkStatus();
      auto d = ComparePaired(a, b, bootstrap);
      if (!d.ok()) return d.status();
      v1::JobEvaluation::Row* row = out.add_rows();
      row->set_task(task);
      row->set_metric(metric);
      row->set_n(d->n);
      row->set_baseline(d->baseline_mean);
      row->set_candidate(d->candidate_mean);
      row->set_difference(d->difference);
      row->set_ci_low(d->ci_low);
      row->set_ci_high(d->ci_high);
      return absl::OkStatus();
    };
    if (auto s = add(kExactMatchMetric, match_a, match_b); !s.ok()) return s;
    if (auto s = add(kValidJsonMetric, valid_a, valid_b); !s.ok()) return s;
    if (auto s = add(kJsonFieldAccuracyMetric, json_a, json_b); !s.ok()) return s;
    if (auto s = add(kAnswerLossMetric, loss_a, loss_b); !s.ok()) return s;
  }
  return out;
}

std::vector<size_t> DifferingExamples(const ScoredModel& baseline, const ScoredModel& candidate) {
  std::vector<size_t> differing;
  for (size_t i = 0; i < baseline.match.per_example.size() && i < candidate.match.per_example.size(); ++i) {
    if (baseline.match.per_example[i].reply != candidate.match.per_example[i].reply) differing.push_back(i);
  }
  return differing;
}

std::string ComparisonTable(const v1::JobEvaluation& evaluation, int show) {
  std::string out = absl::StrFormat(
      "A/B evaluation on %s, %d examples\n  baseline:  %s\n  candidate: %s\n\n"
      "| task | metric | n | baseline | candidate | difference | %.0f%% interval |\n"
      "| --- | --- | ---: | ---: | ---: | ---: | --- |\n",
      evaluation.data_path(), evaluation.examples(), evaluation.baseline(), evaluation.candidate(),
      100 * evaluation.confidence());
  for (const auto& r : evaluation.rows()) {
    const bool rate = IsRateMetric(r.metric());
    const auto value = [&r](double x) { return FormatMetricValue(r.metric(), x); };
    const auto delta = [&r](double x) { return FormatMetricDifference(r.metric(), x); };
    absl::StrAppend(&out, "| ", r.task(), " | ", r.metric(), " | ", r.n(), " | ", value(r.baseline()), " | ",
                    value(r.candidate()), " | ", delta(r.difference()), rate ? " pts" : "", " | [",
                    delta(r.ci_low()), ", ", delta(r.ci_high()), "] |\n");
  }
  absl::StrAppend(&out, "\nthe two answer differently on ", evaluation.differing_examples(), " of ",
                  evaluation.examples(), " examples",
                  evaluation.differing().empty() || show <= 0 ? "\n" : "; the first:\n");
  const auto one_line = [](const std::string& text) { return absl::StrReplaceAll(text, {{"\n", "\\n"}}); };
  for (int k = 0; k < evaluation.differing_size() && k < show; ++k) {
    const auto& e = evaluation.differing(k);
    absl::StrAppend(&out, "  [", e.task(), "] prompt:    ", one_line(e.prompt()), "\n    expected:  ",
                    one_line(e.expected()), "\n    baseline:  ", one_line(e.baseline()), "\n    candidate: ",
                    one_line(e.candidate()), "\n");
  }
  return out;
}

}  // namespace tunefleet
