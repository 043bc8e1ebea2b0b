#include "cli/plot/loss_series.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace tunefleet::cli {

void LossSeries::Add(const v1::MetricSample& sample) {
  if (sample.rank() != 0) return;  // every rank reports the same gang loss
  const auto& v = sample.values();
  if (auto it = v.find("train_loss"); it != v.end()) train[sample.step()] = it->second;
  if (auto it = v.find("eval_loss"); it != v.end()) eval[sample.step()] = it->second;
}

absl::StatusOr<LossSeries> ReadMetricsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read metrics file ", path));
  LossSeries series;
  std::string text;
  while (std::getline(in, text)) {
    const nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_object() || !line.contains("step") || !line["step"].is_number()) continue;  // a torn last line
    if (line.contains("rank") && line["rank"].is_number() && line["rank"].get<int>() != 0) continue;
    const int64_t step = line["step"].get<int64_t>();
    if (line.contains("train_loss") && line["train_loss"].is_number()) series.train[step] = line["train_loss"];
    if (line.contains("eval_loss") && line["eval_loss"].is_number()) series.eval[step] = line["eval_loss"];
  }
  return series;
}

}  // namespace tunefleet::cli
