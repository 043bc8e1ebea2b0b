#pragma once
// The one way tunefleet writes a file that readers must never see half
// written: bytes go to a fresh temporary beside the target,
// "<name>.tmp-<16 random hex digits>", created O_CREAT|O_EXCL|O_NOFOLLOW
// (a file or symlink planted at any name we might pick is never opened, let
// alone followed or truncated); Commit fsyncs it, renames it over the target
// (a symlink at the target is replaced, not followed) and fsyncs the
// directory. Without Commit the destructor removes the temporary.
//
// The directory is opened once, through the installed path policy
// (process_path_policy.h), and every later step is relative to it.

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fs/unique_fd.h"

namespace tunefleet {

class AtomicFileWriter {
 public:
  // Creates the temporary beside `path` (its directory must exist).
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path, mode_t mode = 0644);

  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Writes all `size` bytes (retrying short writes and EINTR). Errors keep
  // the errno's code and name the path.
  absl::Status Append(const void* data, size_t size);

  // fsync, close, rename to the final path, fsync the directory. Once.
  absl::Status Commit();

  // The temporary's name in the target's directory (tests).
  const std::string& temp_name() const { return temp_name_; }

 private:
  AtomicFileWriter(std::string path, UniqueFd dir, std::string name, std::string temp_name, UniqueFd fd);

  std::string path_;
  UniqueFd dir_;
  std::string name_;
  std::string temp_name_;
  UniqueFd fd_;
  bool committed_ = false;
};

// All of `contents` to `path` through an AtomicFileWriter.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents, mode_t mode = 0644);

// "<name>.tmp-<16 hex digits>" from the kernel's CSPRNG.
std::string RandomTempName(const std::string& name);

}  // namespace tunefleet
