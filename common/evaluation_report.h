#pragma once
// A job's after-training A/B evaluation (v1::JobEvaluation) as it crosses
// processes: rank 0 sends it as one metrics event's text value (compact
// proto JSON, rows dropped from the end until it fits), and the coordinator
// parses and checks it before keeping it on the job. The metric names are
// named here once: the trainer writes them, the CLI and sweeps read them.

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet {

inline constexpr char kExactMatchMetric[] = "exact match";
inline constexpr char kValidJsonMetric[] = "valid JSON";
inline constexpr char kJsonFieldAccuracyMetric[] = "JSON field accuracy";
inline constexpr char kAnswerLossMetric[] = "answer loss (nats/token)";
// The row group over every example when the data names several tasks.
inline constexpr char kAllTasksGroup[] = "(all tasks)";

// The report as a file in the export folder, beside tunefleet_lineage.json.
inline constexpr char kEvaluationFileName[] = "tunefleet_evaluation.json";

inline constexpr int kMaxEvaluationRows = 64;
inline constexpr int kMaxEvaluationExamples = 8;        // differing examples kept
inline constexpr size_t kMaxEvaluationExampleBytes = 256;  // each of their texts
inline constexpr size_t kMaxEvaluationStringBytes = 1024;

// Compact JSON of `evaluation` at most `max_bytes` long: the examples, then
// rows, are dropped from the end until it fits (then the names are cut).
std::string EvaluationReportToJson(const v1::JobEvaluation& evaluation, size_t max_bytes);
// Every row, indented: the export's file.
std::string EvaluationReportToFileJson(const v1::JobEvaluation& evaluation);

// INVALID_ARGUMENT naming the problem: not JSON of a JobEvaluation, more
// than kMaxEvaluationRows rows or kMaxEvaluationExamples examples, a string
// past kMaxEvaluationStringBytes (an example's: kMaxEvaluationExampleBytes), a
// non-finite or negative count, a rate outside [0, 1].
absl::StatusOr<v1::JobEvaluation> EvaluationReportFromJson(absl::string_view text);

// Rates (every metric but the answer loss) are in [0, 1] and shown as
// percentages and their differences as points; the loss as it is.
bool IsRateMetric(const std::string& metric);
std::string FormatMetricValue(const std::string& metric, double value);       // "98.0%", "0.0059"
std::string FormatMetricDifference(const std::string& metric, double value);  // "+98.0", "-1.6131"

// The row the job is judged by (a sweep's "eval score"): exact match over
// all tasks; null when there is none.
const v1::JobEvaluation::Row* HeadlineRow(const v1::JobEvaluation& evaluation);

}  // namespace tunefleet
