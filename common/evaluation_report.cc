#include "common/evaluation_report.h"

#include <cmath>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tunefleet {
namespace {

std::string Compact(const v1::JobEvaluation& evaluation, bool indent = false) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = indent;
  (void)google::protobuf::util::MessageToJsonString(evaluation, &out, options);
  return out;
}

absl::Status CheckString(const std::string& field, const std::string& value) {
  if (value.size() > kMaxEvaluationStringBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluation report: ", field, " is ", value.size(), " bytes (at most ", kMaxEvaluationStringBytes, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsRateMetric(const std::string& metric) { return metric != kAnswerLossMetric; }

std::string FormatMetricValue(const std::string& metric, double value) {
  return IsRateMetric(metric) ? absl::StrFormat("%.1f%%", 100 * value) : absl::StrFormat("%.4f", value);
}

std::string FormatMetricDifference(const std::string& metric, double value) {
  return IsRateMetric(metric) ? absl::StrFormat("%+.1f", 100 * value) : absl::StrFormat("%+.4f", value);
}

std::string EvaluationReportToJson(const v1::JobEvaluation& evaluation, size_t max_bytes) {
  v1::JobEvaluation trimmed = evaluation;
  std::string text = Compact(trimmed);
  while (text.size() > max_bytes && trimmed.differing_size() > 0) {
    trimmed.mutable_differing()->RemoveLast();
    text = Compact(trimmed);
  }
  while (text.size() > max_bytes && trimmed.rows_size() > 0) {
    trimmed.mutable_rows()->RemoveLast();
    text = Compact(trimmed);
  }
  if (text.size() > max_bytes) {
    for (std::string* name : {trimmed.mutable_data_path(), trimmed.mutable_baseline(), trimmed.mutable_candidate()}) {
      name->resize(std::min<size_t>(name->size(), 64));
    }
    text = Compact(trimmed);
  }
  return text;
}

std::string EvaluationReportToFileJson(const v1::JobEvaluation& evaluation) {
  return Compact(evaluation, /*indent=*/true);
}

absl::StatusOr<v1::JobEvaluation> EvaluationReportFromJson(absl::string_view text) {
  v1::JobEvaluation evaluation;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(std::string(text), &evaluation, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("evaluation report: not a JobEvaluation: ", parsed.ToString()));
  }
  if (evaluation.rows_size() > kMaxEvaluationRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluation report: ", evaluation.rows_size(), " rows (at most ", kMaxEvaluationRows, ")"));
  }
  for (const auto& [field, value] : {std::pair<const char*, const std::string*>{"data_path", &evaluation.data_path()},
                                     {"baseline", &evaluation.baseline()},
                                     {"candidate", &evaluation.candidate()}}) {
    if (auto s = CheckString(field, *value); !s.ok()) return s;
  }
  if (evaluation.examples() < 0 || evaluation.differing_examples() < 0 ||
      evaluation.differing_examples() > evaluation.examples()) {
    return absl::InvalidArgumentError("evaluation report: negative or inconsistent example counts");
  }
  if (!(evaluation.confidence() >= 0 && evaluation.confidence() < 1)) {
    return absl::InvalidArgumentError("evaluation report: confidence outside [0, 1)");
  }
  if (evaluation.differing_size() > kMaxEvaluationExamples) {
    return absl::InvalidArgumentError(absl::StrCat("evaluation report: ", evaluation.differing_size(),
                                                   " examples (at most ", kMaxEvaluationExamples, ")"));
  }
  for (const auto& example : evaluation.differing()) {
    for (const std::string* field : {&example.task(), &example.prompt(), &example.expected(), &example.baseline(),
                                     &example.candidate()}) {
      if (field->size() > kMaxEvaluationExampleBytes) {
        return absl::InvalidArgumentError(absl::StrCat("evaluation report: an example's text is ", field->size(),
                                                       " bytes (at most ", kMaxEvaluationExampleBytes, ")"));
      }
    }
  }
  for (int i = 0; i < evaluation.rows_size(); ++i) {
    const auto& row = evaluation.rows(i);
    const std::string where = absl::StrCat("rows[", i, "]");
    if (auto s = CheckString(where + ".task", row.task()); !s.ok()) return s;
    if (auto s = CheckString(where + ".metric", row.metric()); !s.ok()) return s;
    if (row.n() < 0 || row.n() > evaluation.examples()) {
      return absl::InvalidArgumentError(absl::StrCat("evaluation report: ", where, ".n is ", row.n(), " of ",
                                                     evaluation.examples(), " examples"));
    }
    for (double v : {row.baseline(), row.candidate(), row.difference(), row.ci_low(), row.ci_high()}) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(absl::StrCat("evaluation report: ", where, " holds a non-finite value"));
      }
    }
    if (IsRateMetric(row.metric()) && (row.baseline() < 0 || row.baseline() > 1 || row.candidate() < 0 || row.candidate() > 1)) {
      return absl::InvalidArgumentError(absl::StrCat("evaluation report: ", where, " (", row.metric(),
                                                     ") is a rate outside [0, 1]"));
    }
  }
  return evaluation;
}

const v1::JobEvaluation::Row* HeadlineRow(const v1::JobEvaluation& evaluation) {
  const v1::JobEvaluation::Row* found = nullptr;
  for (const auto& row : evaluation.rows()) {
    if (row.metric() != kExactMatchMetric) continue;
    if (row.task() == kAllTasksGroup) return &row;
    if (found == nullptr) found = &row;  // one task only: its row is the whole
  }
  return found;
}

}  // namespace tunefleet
