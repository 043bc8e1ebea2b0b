#pragma once
// The audit log: who did what, when, with what result, for every mutating
// call (allowed or refused), in the coordinator's SQLite database.
//
// Its own connection to the database file: an audit row is written after the
// call it records, outside the control plane's lock, and never blocks it.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tunefleet/v1/admin_service.pb.h"

struct sqlite3;

namespace tunefleet::coordinator::auth {

class AuditLog {
 public:
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& database);
  ~AuditLog();
  // `event`'s id and time are set here.
  absl::Status Record(v1::AuditEvent event);
  absl::StatusOr<std::vector<v1::AuditEvent>> Newest(int limit);

 private:
  explicit AuditLog(sqlite3* db) : db_(db) {}
  absl::Mutex mu_;
  sqlite3* const db_;
  int64_t since_prune_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tunefleet::coordinator::auth
