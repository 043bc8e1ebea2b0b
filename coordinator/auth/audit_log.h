#pragma once
// The audit log: who did what, when, with what result, for every mutating
// call (allowed or refused), in the coordinator's SQLite database.
//
// Its own connection to the database file: an audit row is written after the
// call it records, outside the control plane's lock, and never blocks it.
// Rows are group-committed: a call waits until its row is on disk, and the
// rows of calls that arrive while one transaction syncs share the next one
// (one fsync for all), as ControlPlane's submissions do.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/group_commit.h"
#include "tunefleet/v1/admin_service.pb.h"

struct sqlite3;

namespace tunefleet::coordinator::auth {

class AuditLog {
 public:
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& database);
  ~AuditLog();
  // `event`'s id and time are set here. Returns once the row is durable; an
  // error when its batch could not be saved (then none of that batch was).
  absl::Status Record(v1::AuditEvent event);
  absl::StatusOr<std::vector<v1::AuditEvent>> Newest(int limit);

 private:
  // A row waiting for its batch's commit.
  struct Pending {
    const v1::AuditEvent* event;
    int64_t time_us;
  };
  explicit AuditLog(sqlite3* db) : db_(db) {}
  // One transaction for the batch: all rows or none.
  absl::Status WriteBatch(const std::vector<Pending*>& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);

  GroupCommit<Pending, absl::Status> batches_;  // taken before db_mu_

  absl::Mutex db_mu_;  // the connection: one batch or one read at a time
  sqlite3* const db_;
  int64_t since_prune_ ABSL_GUARDED_BY(db_mu_) = 0;
};

}  // namespace tunefleet::coordinator::auth
