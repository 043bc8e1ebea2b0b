#pragma once
// The .safetensors format's vocabulary: element types, their sizes and the
// names the JSON header spells them with. Shared by the reader, the writer
// and the torch adapter; no I/O here.
//
// Layout of a file (https://github.com/huggingface/safetensors):
//   [8 bytes: N, little-endian u64][N bytes: JSON header][data section]
// The header maps each tensor name to {dtype, shape, data_offsets:[begin,end]}
// (offsets relative to the data section) plus an optional "__metadata__"
// object of string -> string. Tensor bytes are little-endian, row-major.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace tunefleet {

enum class SafetensorsDType {
  kF64,
  kF32,
  kF16,
  kBF16,
  kI64,
  kI32,
  kI16,
  kI8,
  kU64,
  kU32,
  kU16,
  kU8,
  kBool,
};

// Every dtype above, for tests and tables that walk them all.
inline constexpr SafetensorsDType kAllSafetensorsDTypes[] = {
    SafetensorsDType::kF64,  SafetensorsDType::kF32, SafetensorsDType::kF16, SafetensorsDType::kBF16,
    SafetensorsDType::kI64,  SafetensorsDType::kI32, SafetensorsDType::kI16, SafetensorsDType::kI8,
    SafetensorsDType::kU64,  SafetensorsDType::kU32, SafetensorsDType::kU16, SafetensorsDType::kU8,
    SafetensorsDType::kBool,
};

// Bytes per element.
size_t DTypeSize(SafetensorsDType dtype);

// The header's spelling: "F32", "BF16", "BOOL", ...
absl::string_view DTypeName(SafetensorsDType dtype);

// The inverse of DTypeName; nullopt for a name this reader does not know
// (e.g. "F8_E4M3"), which the caller reports with the tensor's name.
std::optional<SafetensorsDType> ParseDType(absl::string_view name);

// The reserved header key holding free-form string metadata.
inline constexpr absl::string_view kSafetensorsMetadataKey = "__metadata__";

// A header larger than this is treated as corrupt rather than parsed: real
// headers are kilobytes, and the bound keeps a bad length from making us
// allocate or parse gigabytes (the Rust reference uses the same limit).
inline constexpr uint64_t kMaxSafetensorsHeaderSize = 100'000'000;

}  // namespace tunefleet
