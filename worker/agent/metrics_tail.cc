#include "worker/agent/metrics_tail.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "common/metric_keys.h"
#include "common/proto_time.h"

namespace tunefleet::worker {
namespace {

// Sets `figure` from field `key` of `sample` when the line has it.
void Take(const v1::MetricSample& sample, const char* key, double& figure) {
  if (auto it = sample.values().find(key); it != sample.values().end()) figure = it->second;
}
void Take(const v1::MetricSample& sample, const char* key, std::optional<double>& figure) {
  if (auto it = sample.values().find(key); it != sample.values().end()) figure = it->second;
}

}  // namespace

// The fields are the trainer's (trainer/metrics/metrics_stream.h).
void MetricsTail::Keep(const v1::MetricSample& sample) {
  if (sample.step() > progress_.step) progress_.step = sample.step();
  if (sample.event() == metric_keys::kStepEvent) {
    Take(sample, metric_keys::kTrainLoss, progress_.train_loss);
    Take(sample, metric_keys::kTokensPerSecond, progress_.tokens_per_second);
    Take(sample, metric_keys::kLearningRate, progress_.learning_rate);
    Take(sample, metric_keys::kGradNorm, progress_.grad_norm);
  } else if (sample.event() == metric_keys::kEvalEvent) {
    Take(sample, metric_keys::kEvalLoss, progress_.eval_loss);
  } else if (sample.event() == metric_keys::kCheckpointEvent) {
    Take(sample, metric_keys::kSaveSeconds, progress_.checkpoint_save_seconds);
    Take(sample, metric_keys::kBytes, progress_.checkpoint_bytes);
    Take(sample, metric_keys::kStallSeconds, progress_.checkpoint_stall_seconds);
  }
}

std::vector<v1::MetricSample> MetricsTail::Poll() {
  std::vector<v1::MetricSample> samples;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return samples;
  in.seekg(offset_);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a partial last line: read it once it is complete
    offset_ += static_cast<int64_t>(line.size()) + 1;
    // No exceptions: a torn or foreign line is skipped, never fatal.
    const nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) continue;
    v1::MetricSample sample;
    for (const auto& [key, value] : json.items()) {
      if (key == metric_keys::kEvent && value.is_string()) {
        sample.set_event(value.get<std::string>());
      } else if (key == metric_keys::kStep && value.is_number_integer()) {
        sample.set_step(value.get<int64_t>());
      } else if (key == metric_keys::kTime && value.is_number()) {
        // Range-checked before the cast, which is undefined past int64
        // (1e300 seconds); a time outside ~[1970, 5138] is left unset.
        const double seconds = value.get<double>();
        if (seconds >= 0 && seconds < 1e11) {
          *sample.mutable_time() = ToProtoTime(absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6)));
        }
      } else if (key == metric_keys::kRank) {
        continue;
      } else if (value.is_number()) {
        const double v = value.get<double>();
        if (std::isfinite(v)) (*sample.mutable_values())[key] = v;
      } else if (value.is_string()) {
        (*sample.mutable_text())[key] = value.get<std::string>();
      } else if (value.is_boolean()) {
        (*sample.mutable_text())[key] = value.get<bool>() ? "true" : "false";
      }
    }
    if (!sample.has_time()) *sample.mutable_time() = ToProtoTime(absl::Now());
    Keep(sample);
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace tunefleet::worker
