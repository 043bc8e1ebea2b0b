#include "cli/plot/loss_series.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/metric_keys.h"

namespace tunefleet::cli {

void LossSeries::Add(const v1::MetricSample& sample) {
  if (sample.rank() != 0) return;  // every rank reports the same gang loss
  const auto& v = sample.values();
  if (auto it = v.find(metric_keys::kTrainLoss); it != v.end()) train[sample.step()] = it->second;
  if (auto it = v.find(metric_keys::kEvalLoss); it != v.end()) eval[sample.step()] = it->second;
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
    if (line.contains(kTrainLoss) && line[kTrainLoss].is_number()) series.train[step] = line[kTrainLoss];
    if (line.contains(kEvalLoss) && line[kEvalLoss].is_number()) series.eval[step] = line[kEvalLoss];
  }
  return series;
}

}  // namespace tunefleet::cli
