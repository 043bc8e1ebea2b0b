// Fuzzes the after-training evaluation report as the coordinator reads it:
// one metrics event's text from a worker (a trainer's output, so anything
// a compromised job writes).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/evaluation_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto report = tunefleet::EvaluationReportFromJson(text);
  if (!report.ok()) return 0;
  // What is accepted must print within the limit and read back.
  const std::string again = tunefleet::EvaluationReportToJson(*report, 8192);
  if (again.size() > 8192 && report->rows_size() > 0) __builtin_trap();
  (void)tunefleet::HeadlineRow(*report);
  return 0;
}
