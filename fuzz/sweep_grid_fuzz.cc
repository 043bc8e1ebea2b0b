// Fuzzes the sweep grid: the CLI's --grid text (ParseSweepAxis) and, for
// axes it accepts, the expansion over a valid base spec that the coordinator
// runs on every CreateSweep (each value through the --set machinery, each
// point through the validation). Input: one --grid argument per line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/sweep_grid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  tunefleet::v1::CreateSweepRequest request;
  request.mutable_base()->mutable_model()->set_path("/m");
  request.mutable_base()->mutable_dataset()->set_path("/d.jsonl");
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    auto axis = tunefleet::ParseSweepAxis(line);
    if (!axis.ok()) continue;
    (void)tunefleet::ResolveSweepAxisPaths(*axis, "/specs");
    *request.add_axes() = *std::move(axis);
  }
  if (!request.axes().empty()) (void)tunefleet::ExpandSweepGrid(request.base(), request.axes());
  return 0;
}
