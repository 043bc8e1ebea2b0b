#include "common/fs/atomic_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"

namespace tunefleet {
namespace {

absl::Status ErrnoError(int err, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path));
}

}  // namespace

std::string RandomTempName(const std::string& name) {
  unsigned char bytes[8] = {};
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return absl::StrCat(name, ".tmp-",
                      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes))));
}

AtomicFileWriter::AtomicFileWriter(std::string path, UniqueFd dir, std::string name, std::string temp_name,
                                   UniqueFd fd)
    : path_(std::move(path)),
      dir_(std::move(dir)),
      name_(std::move(name)),
      temp_name_(std::move(temp_name)),
      fd_(std::move(fd)) {}

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(const std::string& path, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir_path = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("cannot write \"", path, "\": it names no file"));
  }
  absl::StatusOr<UniqueFd> dir = OpenUserDirectory(dir_path);
  if (!dir.ok()) {
    return absl::Status(dir.status().code(), absl::StrCat("cannot create ", path, ": ", dir.status().message()));
  }
  // A name taken by chance (or planted) is never reused: try another.
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string temp_name = RandomTempName(name);
    UniqueFd fd(openat(dir->get(), temp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (fd.valid()) {
      // The umask must not widen or narrow what the caller asked for.
      fchmod(fd.get(), mode);
      return std::unique_ptr<AtomicFileWriter>(
          new AtomicFileWriter(path, std::move(*dir), name, std::move(temp_name), std::move(fd)));
    }
    if (errno != EEXIST) return ErrnoError(errno, "cannot create", absl::StrCat(dir_path, "/", temp_name));
  }
  return absl::AlreadyExistsError(absl::StrCat("cannot create a temporary beside ", path));
}

AtomicFileWriter::~AtomicFileWriter() {
  fd_.reset();
  if (!committed_ && dir_.valid()) unlinkat(dir_.get(), temp_name_.c_str(), 0);
}

absl::Status AtomicFileWriter::Append(const void* data, size_t size) {
  if (!fd_.valid()) return absl::FailedPreconditionError(absl::StrCat(path_, ": already committed"));
  const auto* p = static_cast<const uint8_t*>(data);
  // Linux writes at most ~2 GiB per call; chunking also bounds each retry.
  constexpr size_t kChunk = size_t{1} << 30;
  while (size > 0) {
    const ssize_t n = ::write(fd_.get(), p, std::min(size, kChunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot write", path_);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  if (!fd_.valid()) return absl::FailedPreconditionError(absl::StrCat(path_, ": already committed"));
  // Data must be on disk before the rename makes it visible, or a crash
  // could leave the final name pointing at a file with holes.
  if (::fsync(fd_.get()) != 0) return ErrnoError(errno, "cannot fsync", path_);
  // Only the file we created may take the final name: something else put in
  // place of the temporary (a link to a victim file) is refused.
  struct stat ours {}, named {};
  if (::fstat(fd_.get(), &ours) != 0) return ErrnoError(errno, "cannot stat", path_);
  if (::fstatat(dir_.get(), temp_name_.c_str(), &named, AT_SYMLINK_NOFOLLOW) != 0 || named.st_ino != ours.st_ino ||
      named.st_dev != ours.st_dev) {
    return absl::AbortedError(absl::StrCat("cannot commit ", path_, ": its temporary ", temp_name_,
                                           " was replaced by another file"));
  }
  if (::close(fd_.release()) != 0) return ErrnoError(errno, "cannot close", path_);
  if (::renameat(dir_.get(), temp_name_.c_str(), dir_.get(), name_.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot rename ", temp_name_, " to ", path_));
  }
  committed_ = true;
  // The rename itself lives in the directory; fsync it so it survives a crash.
  if (::fsync(dir_.get()) != 0) return ErrnoError(errno, "cannot fsync the directory of", path_);
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents, mode_t mode) {
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer = AtomicFileWriter::Create(path, mode);
  if (!writer.ok()) return writer.status();
  if (absl::Status s = (*writer)->Append(contents.data(), contents.size()); !s.ok()) return s;
  return (*writer)->Commit();
}

}  // namespace tunefleet
