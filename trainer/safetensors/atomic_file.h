#pragma once
// Streams bytes to `<path>.tmp` and, on Commit, makes them `path` durably:
// fsync the file, rename it over `path`, fsync the directory. Without the
// Commit (an error, an early return) the destructor removes the .tmp, so a
// reader never sees a half-written file under the final name.

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tunefleet {

class AtomicFileWriter {
 public:
  // Creates (truncates) `<path>.tmp`, mode 0644.
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path);

  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Writes all `size` bytes (retrying short writes and EINTR). Errors keep
  // the errno's code and name the path.
  absl::Status Append(const void* data, size_t size);

  // fsync, close, rename to the final path, fsync the directory. Once.
  absl::Status Commit();

 private:
  AtomicFileWriter(std::string path, std::string tmp_path, int fd);

  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// All of `contents` to `path` through an AtomicFileWriter: a reader never
// sees half a file.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace tunefleet
