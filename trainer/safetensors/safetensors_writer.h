#pragma once
// Writing .safetensors files the way Hugging Face's library reads them, and
// atomically: a checkpoint's weights either exist whole or not at all.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/safetensors/safetensors_format.h"

namespace tunefleet {

// One tensor to write. `data` is borrowed: it must stay valid (and hold
// `size_bytes` little-endian, row-major bytes) for the call that takes it.
struct TensorToWrite {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t size_bytes = 0;
};

// The header bytes that follow the 8-byte length: compact JSON with sorted
// keys (tensors by name, "__metadata__" only when non-empty) and tensors laid
// out contiguously in name order, padded with spaces to a multiple of 8 so
// the data section starts 8-byte aligned. INVALID_ARGUMENT naming `path` and
// the tensor for an empty or duplicate or reserved name, a negative dim, or
// size_bytes != product(shape) * dtype size.
absl::StatusOr<std::string> BuildSafetensorsHeader(absl::string_view path,
                                                   const std::vector<TensorToWrite>& tensors,
                                                   const std::map<std::string, std::string>& metadata);

// Writes `path`: [u64 LE header size][header][tensor bytes in name order].
// Goes through `<path>.tmp`, fsync, rename and an fsync of the directory, so
// a crash leaves the old file or the new one, never a torn one; the .tmp is
// removed on failure. OS errors (e.g. ENOSPC) keep their code and name the
// path.
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace tunefleet
