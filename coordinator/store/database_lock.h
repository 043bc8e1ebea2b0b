#pragma once
// One writer per database: an exclusive flock(2) on "<database>.lock", held
// for the life of the object and released by the kernel when the process
// dies (kill -9 included), so a crashed coordinator never leaves it stale.
//
// A sibling file rather than the database itself: SQLite takes POSIX
// (fcntl) locks on the database, and on NFS flock is emulated with fcntl
// locks, which would then collide with SQLite's own.
//
// The file records who holds it (pid, host, start time), so the refusal
// names the other coordinator.

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tunefleet::store {

class DatabaseLock {
 public:
  // FAILED_PRECONDITION naming the holder when another process has it;
  // UNAVAILABLE when the lock file cannot be created.
  static absl::StatusOr<std::unique_ptr<DatabaseLock>> Acquire(const std::string& database);
  ~DatabaseLock();
  DatabaseLock(const DatabaseLock&) = delete;
  DatabaseLock& operator=(const DatabaseLock&) = delete;

  static std::string LockPath(const std::string& database) { return database + ".lock"; }

 private:
  explicit DatabaseLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace tunefleet::store
