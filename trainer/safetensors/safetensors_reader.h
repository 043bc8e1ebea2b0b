#pragma once
// A .safetensors file, memory-mapped read-only and validated once at Open:
// afterwards every tensor is a (name, dtype, shape, byte span) view into the
// mapping, so a multi-gigabyte checkpoint costs no copy until a tensor is
// used, and the page cache is shared between ranks on one node.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/safetensors/safetensors_format.h"

namespace tunefleet {

// One tensor inside an open file. `data` points into the file's mapping and
// is valid only while the SafetensorsFile (or ShardedWeights) that gave it
// out lives. Bytes are little-endian and row-major, and may be unaligned
// for the dtype (the format packs tensors with no padding): memcpy them.
struct TensorView {
  std::string name;
  std::string file;  // the path it came from, for error messages
  SafetensorsDType dtype = SafetensorsDType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t size_bytes = 0;

  int64_t numel() const;
  absl::string_view bytes() const {
    return absl::string_view(reinterpret_cast<const char*>(data), size_bytes);
  }
};

// "[2, 3]", for error messages.
std::string ShapeString(const std::vector<int64_t>& shape);

class SafetensorsFile {
 public:
  // Maps and validates `path` (see ParseSafetensorsHeader for the rules).
  // Errors name the file, and the tensor where one is at fault: NOT_FOUND /
  // PERMISSION_DENIED etc. from the OS, DATA_LOSS for a truncated file,
  // INVALID_ARGUMENT for a malformed header.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // The same for a file already open (a decrypted checkpoint's memory file):
  // `fd` stays the caller's to close; `path` names it in messages.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> OpenFd(int fd, const std::string& path);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }

  // Every tensor, sorted by name.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  std::vector<std::string> names() const;

  // nullptr when absent.
  const TensorView* Find(absl::string_view name) const;
  // NOT_FOUND naming the file and the tensor when absent.
  absl::StatusOr<const TensorView*> Get(absl::string_view name) const;

  // The header's "__metadata__" (e.g. {"format": "pt"}); empty if none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;

  std::string path_;
  void* map_ = nullptr;  // munmap'ed in the destructor
  size_t map_size_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace tunefleet
