#pragma once
// A GGUF file (llama.cpp's single-file model format, versions 2 and 3),
// memory-mapped: its metadata key/values and its tensor directory. Every
// count, length and offset is checked against the file before it is used,
// so a truncated or hostile file gives an error naming what is wrong and
// never a read outside the mapping. Torch-free: the weights are handed out
// as raw bytes and decoded by gguf_dequant.h.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "trainer/gguf/ggml_type.h"

namespace tunefleet {

// One metadata value. Scalars widen to the largest type of their kind;
// arrays of scalars and strings are kept; arrays of arrays (no model field
// uses them) are recorded as kUnsupported.
struct GgufValue {
  enum class Kind { kUnsigned, kSigned, kFloat, kBool, kString, kStringArray, kIntArray, kFloatArray, kUnsupported };
  Kind kind = Kind::kUnsupported;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<std::string>, std::vector<int64_t>,
               std::vector<double>>
      value;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order: dims[0] varies fastest (torch shape reversed)
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;  // from the start of the data section
  int64_t elements = 0;
  uint64_t bytes = 0;
};

class GgufFile {
 public:
  // Maps and parses `path`. Errors name the file and the field.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses an in-memory copy (tests and fuzzing); `source` is named in errors.
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromBytes(std::string bytes, const std::string& source);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& source() const { return source_; }
  uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(const std::string& name) const;
  // The tensor's bytes inside the mapping (valid while the file lives).
  absl::Span<const uint8_t> TensorData(const GgufTensorInfo& tensor) const;

  // Typed metadata lookups; errors name the key and what was found.
  bool Has(const std::string& key) const { return metadata_.count(key) != 0; }
  absl::StatusOr<std::string> String(const std::string& key) const;
  absl::StatusOr<uint64_t> Unsigned(const std::string& key) const;  // any non-negative integer
  absl::StatusOr<double> Float(const std::string& key) const;       // a float or any integer
  absl::StatusOr<bool> Bool(const std::string& key) const;
  absl::StatusOr<std::vector<std::string>> Strings(const std::string& key) const;
  absl::StatusOr<std::vector<int64_t>> Ints(const std::string& key) const;

 private:
  GgufFile() = default;
  absl::Status Parse();

  std::string source_;
  std::string owned_;  // FromBytes' copy
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;
  uint32_t version_ = 0;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// True when `path` is a regular file that starts with the GGUF magic.
bool IsGgufFile(const std::string& path);

}  // namespace tunefleet
