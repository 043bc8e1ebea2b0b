#include "cli/plot/loss_series.h"

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/metric_keys.h"

namespace tunefleet::cli {

void LossSeries::Add(const v1::MetricSample& sample) {
  if (sample.rank() != 0) return;  // every rank reports the same gang loss
  for (const auto& [key, value] : sample.values()) AddValue(sample.step(), key, value);
}

void LossSeries::AddValue(int64_t step, const std::string& key, double value) {
  using namespace metric_keys;
  if (key == kTrainLoss) {
    train[step] = value;
  } else if (key == kEvalLoss) {
    eval[step] = value;
  } else if (absl::StartsWith(key, kTaskTrainLossPrefix)) {
    task_train[key.substr(std::strlen(kTaskTrainLossPrefix))][step] = value;
  } else if (absl::StartsWith(key, kTaskEvalLossPrefix)) {
    task_eval[key.substr(std::strlen(kTaskEvalLossPrefix))][step] = value;
  }
}

absl::StatusOr<LossSeries> ReadMetricsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read metrics file ", path));
  LossSeries series;
  std::string text;
  while (std::getline(in, text)) {
    const nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    using namespace metric_keys;
    if (!line.is_object() || !line.contains(kStep) || !line[kStep].is_number()) continue;  // a torn last line
    // Compared as JSON and read as an integer only when it is one: get<int>()
    // casts a float, undefined past the type's range (a rank of 1e300).
    if (line.contains(kRank) && line[kRank].is_number() && line[kRank] != 0) continue;
    if (!line[kStep].is_number_integer()) continue;
    const int64_t step = line[kStep].get<int64_t>();
    for (const auto& item : line.items()) {
      if (item.value().is_number()) series.AddValue(step, item.key(), item.value().get<double>());
    }
  }
  return series;
}

}  // namespace tunefleet::cli
