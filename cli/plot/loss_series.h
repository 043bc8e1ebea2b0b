#pragma once
// Train and eval loss over steps, from a metrics JSONL file (the trainer's
// --metrics-out) or from WatchJobMetrics samples.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet::cli {

struct LossSeries {
  // step -> loss; a map so repeated steps (a resumed attempt) keep the newest.
  std::map<int64_t, double> train;
  std::map<int64_t, double> eval;
  // Multi-task jobs: task name -> step -> that task's train loss (unweighted)
  // and validation loss, one line per task on the chart.
  std::map<std::string, std::map<int64_t, double>> task_train;
  std::map<std::string, std::map<int64_t, double>> task_eval;

  void Add(const v1::MetricSample& sample);
  // One metrics-stream field: the loss keys above, else ignored.
  void AddValue(int64_t step, const std::string& key, double value);
  bool empty() const { return train.empty() && eval.empty(); }
};

// Lines like {"event":"step","rank":0,"step":3,"train_loss":1.2} and
// {"event":"eval","step":25,"eval_loss":1.4}; rank 0 only; other lines skipped.
absl::StatusOr<LossSeries> ReadMetricsFile(const std::string& path);

}  // namespace tunefleet::cli
