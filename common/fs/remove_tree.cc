#include "common/fs/remove_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tunefleet {
namespace {

bool IsOneComponent(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// The names in an open directory (its own descriptor is left open).
absl::StatusOr<std::vector<std::string>> Names(int dir_fd, const std::string& shown) {
  const int copy = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot list ", shown));
  DIR* dir = ::fdopendir(copy);
  if (dir == nullptr) {
    const int error = errno;
    ::close(copy);
    return absl::ErrnoToStatus(error, absl::StrCat("cannot list ", shown));
  }
  ::rewinddir(dir);  // the duplicate shares the offset of an earlier listing
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  return names;
}

absl::Status RemoveAt(int dir_fd, const std::string& name, const std::string& shown, int depth) {
  // A file or a link goes with one unlinkat, which never follows the link.
  if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR && errno != EPERM)
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot remove ", shown));
  if (depth >= kMaxRemoveDepth) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot remove ", shown, ": nested deeper than ", kMaxRemoveDepth, " folders"));
  }
  absl::StatusOr<UniqueFd> dir = OpenDirectoryAt(dir_fd, name);
  if (!dir.ok()) {
    // Swapped for a file or link since the unlinkat: unlink that instead.
    if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
    return dir.status();
  }
  // Listed again until empty: entries added while removing are removed too.
  for (int pass = 0; pass < 4; ++pass) {
    absl::StatusOr<std::vector<std::string>> names = Names(dir->get(), shown);
    if (!names.ok()) return names.status();
    if (names->empty()) break;
    for (const std::string& child : *names) {
      if (absl::Status s = RemoveAt(dir->get(), child, absl::StrCat(shown, "/", child), depth + 1); !s.ok())
        return s;
    }
  }
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot remove ", shown));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UniqueFd> OpenDirectoryAt(int dir_fd, const std::string& name) {
  if (!IsOneComponent(name))
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" is not one name"));
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    const int error = errno;
    return absl::ErrnoToStatus(
        error, absl::StrCat("cannot open folder ", name,
                            error == ELOOP || error == ENOTDIR ? " (a symbolic link or not a folder)" : ""));
  }
  return fd;
}

absl::Status RemoveTreeAt(int dir_fd, const std::string& name) {
  if (!IsOneComponent(name))
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" is not one name"));
  return RemoveAt(dir_fd, name, name, 0);
}

absl::Status RemoveTree(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", parent));
  if (absl::Status s = RemoveTreeAt(parent_fd.get(), name); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), " (in ", parent, ")"));
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
