#include "trainer/safetensors/safetensors_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fs/process_path_policy.h"
#include "trainer/safetensors/safetensors_header.h"

namespace tunefleet {
namespace {

// The format is little-endian; so are all the hosts we build for.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors reader assumes little-endian");

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated at Open: fits, since bytes fit the file
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  // Through the path policy: a weights file is a user path, or beneath one.
  absl::StatusOr<UniqueFd> opened = OpenUserFile(path);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat("cannot open safetensors file ", path, ": ", opened.status().message()));
  }
  return OpenFd(opened->get(), path);  // the mapping outlives the descriptor
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::OpenFd(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot stat ", path));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": file is ", file_size, " bytes, shorter than the 8-byte header length"));
  }

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot mmap ", path));
  }
  file->map_ = map;
  file->map_size_ = file_size;
  const auto* base = static_cast<const uint8_t*>(map);

  uint64_t header_size = 0;
  std::memcpy(&header_size, base, sizeof(header_size));  // little-endian on disk and host
  if (header_size > kMaxSafetensorsHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header length ", header_size, " exceeds the ",
                                                   kMaxSafetensorsHeaderSize,
                                                   "-byte limit; not a safetensors file?"));
  }
  if (header_size > file_size - 8) {
    return absl::DataLossError(absl::StrCat(path, ": header length ", header_size, " exceeds the file (",
                                            file_size, " bytes); is the file truncated?"));
  }
  const absl::string_view header_json(reinterpret_cast<const char*>(base + 8), header_size);
  const uint64_t data_offset = 8 + header_size;
  absl::StatusOr<SafetensorsHeader> header =
      ParseSafetensorsHeader(path, header_json, file_size - data_offset);
  if (!header.ok()) return header.status();

  file->metadata_ = std::move(header->metadata);
  file->tensors_.reserve(header->tensors.size());
  for (SafetensorsHeaderEntry& entry : header->tensors) {
    TensorView view;
    view.name = std::move(entry.name);
    view.file = path;
    view.dtype = entry.dtype;
    view.shape = std::move(entry.shape);
    view.data = base + data_offset + entry.begin;
    view.size_bytes = entry.end - entry.begin;
    file->tensors_.push_back(std::move(view));
  }
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const TensorView& t : tensors_) names.push_back(t.name);
  return names;
}

const TensorView* SafetensorsFile::Find(absl::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView& t, absl::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

absl::StatusOr<const TensorView*> SafetensorsFile::Get(absl::string_view name) const {
  const TensorView* view = Find(name);
  if (view == nullptr) {
    return absl::NotFoundError(absl::StrCat(path_, ": no tensor '", name, "'"));
  }
  return view;
}

}  // namespace tunefleet
