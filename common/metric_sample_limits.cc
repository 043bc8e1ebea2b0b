#include "common/metric_sample_limits.h"

#include "absl/strings/str_cat.h"

namespace tunefleet::metric_sample_limits {

absl::Status CheckSample(const v1::MetricSample& sample) {
  const auto where = [&] {
    return absl::StrCat("sample of ", sample.job(), " rank ", sample.rank(), " step ", sample.step());
  };
  const int64_t bytes = static_cast<int64_t>(sample.ByteSizeLong());
  if (bytes > kMaxSampleBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(where(), ": ", bytes, " bytes; the limit is ", kMaxSampleBytes, " (kMaxSampleBytes)"));
  }
  const int entries = sample.values_size() + sample.text_size();
  if (entries > kMaxEntries) {
    return absl::InvalidArgumentError(absl::StrCat(where(), ": values and text: ", entries, " entries; the limit is ",
                                                   kMaxEntries, " (kMaxEntries)"));
  }
  if (static_cast<int64_t>(sample.event().size()) > kMaxEventBytes) {
    return absl::InvalidArgumentError(absl::StrCat(where(), ": event: ", sample.event().size(), " bytes; the limit is ",
                                                   kMaxEventBytes, " (kMaxEventBytes)"));
  }
  const auto check_key = [&](const std::string& key, const char* field) -> absl::Status {
    if (static_cast<int64_t>(key.size()) <= kMaxKeyBytes) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(where(), ": ", field, ": a key of ", key.size(),
                                                   " bytes; the limit is ", kMaxKeyBytes, " (kMaxKeyBytes)"));
  };
  for (const auto& [key, value] : sample.values()) {
    if (auto s = check_key(key, "values"); !s.ok()) return s;
  }
  for (const auto& [key, value] : sample.text()) {
    if (auto s = check_key(key, "text"); !s.ok()) return s;
    if (static_cast<int64_t>(value.size()) > kMaxTextBytes) {
      return absl::InvalidArgumentError(absl::StrCat(where(), ": text[\"", key, "\"]: ", value.size(),
                                                     " bytes; the limit is ", kMaxTextBytes, " (kMaxTextBytes)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tunefleet::metric_sample_limits
