#include "common/fs/open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/fs/unique_fd.h"

#ifndef SYS_openat2
#define SYS_openat2 437  // the same number on every architecture
#endif

namespace tunefleet {
namespace {

int OpenWithOpenat2(int dir_fd, const std::string& relative, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;  // openat2 refuses a mode without them
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = syscall(SYS_openat2, dir_fd, relative.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));  // EAGAIN: a concurrent rename; try again
  return fd < 0 ? -errno : static_cast<int>(fd);
}

// -ELOOP when `name` in `at` is a symlink (what O_NOFOLLOW refused, whatever
// errno the open chose: ENOTDIR under O_DIRECTORY), else -err.
int SymlinkOr(int at, const std::string& name, int err) {
  struct stat st {};
  if (fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) return -ELOOP;
  return -err;
}

// One component at a time, never following a symlink: every intermediate
// directory is opened O_PATH|O_NOFOLLOW|O_DIRECTORY beneath the previous one.
int OpenByWalk(int dir_fd, const std::string& relative, int flags, mode_t mode) {
  std::vector<std::string> parts = absl::StrSplit(relative, '/', absl::SkipEmpty());
  if (parts.empty() || (parts.size() == 1 && parts[0] == ".")) {
    const int fd = openat(dir_fd, ".", flags, mode);
    return fd < 0 ? -errno : fd;
  }
  UniqueFd current;
  int at = dir_fd;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] == ".." || parts[i] == ".") return -EXDEV;
    const int next = openat(at, parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return SymlinkOr(at, parts[i], errno);
    current.reset(next);
    at = next;
  }
  if (parts.back() == ".." || parts.back() == ".") return -EXDEV;
  const int fd = openat(at, parts.back().c_str(), flags | O_NOFOLLOW, mode);
  return fd < 0 ? SymlinkOr(at, parts.back(), errno) : fd;
}

}  // namespace

int OpenBeneath(int dir_fd, const std::string& relative, int flags, mode_t mode, BeneathResolver resolver) {
  if (!relative.empty() && relative[0] == '/') return -EXDEV;
  // openat2 refuses O_PATH with any flag but these three (EINVAL).
  flags |= (flags & O_PATH) != 0 ? O_CLOEXEC : O_CLOEXEC | O_NOCTTY;
  if (resolver == BeneathResolver::kAuto) {
    const int fd = OpenWithOpenat2(dir_fd, relative, flags, mode);
    if (fd != -ENOSYS) return fd;
  }
  return OpenByWalk(dir_fd, relative, flags, mode);
}

}  // namespace tunefleet
