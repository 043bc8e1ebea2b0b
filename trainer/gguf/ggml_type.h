#pragma once
// ggml's tensor types as GGUF numbers them, and the block layout of each
// one we decode. The numbers are the file format's (ggml.h, gguf-py's
// GGMLQuantizationType); they never change.

#include <cstdint>
#include <optional>
#include <string>

namespace tunefleet {

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kBF16 = 30,
};

struct GgmlBlockLayout {
  int64_t elements;  // per block
  int64_t bytes;     // per block
};

// The layout of a type we can decode, or nullopt (the number is named in
// the caller's error).
std::optional<GgmlBlockLayout> BlockLayoutOf(uint32_t type);
std::string GgmlTypeName(uint32_t type);

}  // namespace tunefleet
