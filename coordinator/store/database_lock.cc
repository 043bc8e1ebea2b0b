#include "coordinator/store/database_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tunefleet::store {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buffer[512];
  ssize_t n;
  off_t offset = 0;
  while ((n = pread(fd, buffer, sizeof(buffer), offset)) > 0 && out.size() < 4096) {
    out.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DatabaseLock>> DatabaseLock::Acquire(const std::string& database) {
  const std::string path = LockPath(database);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open lock file ", path, ": ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    std::string holder(absl::StripAsciiWhitespace(ReadAll(fd)));
    close(fd);
    if (error != EWOULDBLOCK) {
      return absl::UnavailableError(absl::StrCat("cannot lock ", path, ": ", std::strerror(error)));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("database ", database, " is in use by another coordinator (",
                     holder.empty() ? "holder unknown" : holder, "; lock file ", path,
                     "): one coordinator per database; stop that one first"));
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const std::string who = absl::StrCat("pid ", getpid(), " on host ", host, " since ",
                                       absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()),
                                       "\n");
  // Best effort: the lock is what matters, the text only names its holder.
  if (ftruncate(fd, 0) != 0 || pwrite(fd, who.data(), who.size(), 0) != static_cast<ssize_t>(who.size())) {
    // Left as it is: a refusal then says less about us, nothing worse.
  }
  return std::unique_ptr<DatabaseLock>(new DatabaseLock(fd));
}

DatabaseLock::~DatabaseLock() {
  // Closing the descriptor releases the lock; the file stays (removing it
  // would race with a successor that has just opened it).
  close(fd_);
}

}  // namespace tunefleet::store
