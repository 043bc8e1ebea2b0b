#include "trainer/metrics/metrics_stream.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace tunefleet {

absl::StatusOr<std::unique_ptr<MetricsStream>> MetricsStream::Open(const std::string& path, int rank) {
  std::FILE* file = nullptr;
  if (!path.empty()) {
    file = std::fopen(path.c_str(), "a");
    if (file == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot open metrics stream ", path, ": ", std::strerror(errno)));
    }
  }
  return std::unique_ptr<MetricsStream>(new MetricsStream(file, rank));
}

MetricsStream::~MetricsStream() {
  if (file_ != nullptr) std::fclose(file_);
}

void MetricsStream::Write(const std::string& event, int64_t step, const std::map<std::string, double>& values,
                          const std::map<std::string, std::string>& text) {
  if (file_ == nullptr) return;
  nlohmann::json line;
  line["event"] = event;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  line["time"] = std::chrono::duration<double>(now).count();
  line["rank"] = rank_;
  line["step"] = step;
  for (const auto& [k, v] : values) line[k] = v;
  for (const auto& [k, v] : text) line[k] = v;
  const std::string out = line.dump() + "\n";
  std::fwrite(out.data(), 1, out.size(), file_);
  std::fflush(file_);
}

}  // namespace tunefleet
