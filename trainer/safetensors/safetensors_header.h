#pragma once
// Parsing and validating a .safetensors JSON header against the size of the
// data section that follows it. Kept apart from the reader so the rules (the
// part that must hold against any malformed input) sit in one place, with no
// file or mmap in the way.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/safetensors/safetensors_format.h"

namespace tunefleet {

// One tensor as the header describes it; offsets are relative to the start
// of the data section and already checked against it.
struct SafetensorsHeaderEntry {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsHeaderEntry> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;  // "__metadata__", may be empty
};

// Parses `header_json` (the N header bytes, trailing space padding allowed)
// and checks every entry: dtype/shape/data_offsets present and well-typed,
// known dtype, non-negative integer dims, begin <= end <= data_size,
// end - begin == product(shape) * dtype size, and the entries tiling
// [0, data_size) exactly (no overlap, no hole, no trailing bytes), as the
// format requires. Errors are INVALID_ARGUMENT (DATA_LOSS for a truncated
// data section) and name `file` and the tensor. Never throws.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view file,
                                                         absl::string_view header_json, uint64_t data_size);

}  // namespace tunefleet
