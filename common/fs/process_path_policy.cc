#include "common/fs/process_path_policy.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace tunefleet {
namespace {

absl::Mutex& PolicyMutex() {
  static absl::Mutex mutex;
  return mutex;
}

std::shared_ptr<const PathPolicy>& PolicySlot() {
  static auto* slot = new std::shared_ptr<const PathPolicy>(std::make_shared<PathPolicy>(PathPolicy::Unconfined()));
  return *slot;
}

}  // namespace

void InstallPathPolicy(std::shared_ptr<const PathPolicy> policy) {
  absl::MutexLock lock(&PolicyMutex());
  PolicySlot() = policy ? std::move(policy) : std::make_shared<PathPolicy>(PathPolicy::Unconfined());
}

std::shared_ptr<const PathPolicy> InstalledPathPolicy() {
  absl::MutexLock lock(&PolicyMutex());
  return PolicySlot();
}

absl::StatusOr<UniqueFd> OpenUserFile(const std::string& path) { return InstalledPathPolicy()->OpenFile("", path); }

absl::StatusOr<UniqueFd> OpenUserDirectory(const std::string& path) {
  return InstalledPathPolicy()->OpenDirectory("", path);
}

absl::StatusOr<UniqueFd> MakeUserDirectories(const std::string& path) {
  return InstalledPathPolicy()->MakeDirectories("", path);
}

absl::StatusOr<std::string> ReadUserFile(const std::string& path) {
  absl::StatusOr<UniqueFd> fd = OpenUserFile(path);
  if (!fd.ok()) return fd.status();
  std::string contents;
  char buffer[65536];
  while (true) {
    const ssize_t n = read(fd->get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  return contents;
}

}  // namespace tunefleet
