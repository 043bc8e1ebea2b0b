#pragma once
// The Store on one SQLite file (WAL, synchronous=FULL): every write is one
// transaction that is on disk when the call returns, so a job acknowledged by
// CreateJob survives kill -9. Messages are stored as serialized protos beside
// the few columns that queries need.
//
// Opening takes the database's lock (database_lock.h) and checks that the
// file is ours: a zero-length file, a SQLite database without tables, or a
// file with someone else's tables is refused unless `init` (and someone
// else's tables always are), so a wrong volume or path never starts an empty
// control plane silently. A missing file is created.

#include <functional>
#include <memory>
#include <string>

#include "coordinator/store/store.h"

namespace tunefleet::store {

enum class BadRowPolicy {
  kRefuse,      // LoadJobs/LoadWorkers fail with DATA_LOSS naming the row
  kQuarantine,  // the row moves to the `quarantine` table, named in the log
};

struct SqliteOptions {
  bool init = false;  // create the schema in a zero-length or empty database
  BadRowPolicy bad_rows = BadRowPolicy::kRefuse;
  // Where quarantined rows and other notices go; null: stderr.
  std::function<void(const std::string&)> log;
};

// FAILED_PRECONDITION: another process holds the database (named);
// DATA_LOSS: the file is not ours, or is empty without `init`;
// UNAVAILABLE: it cannot be opened.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, SqliteOptions options = {});

}  // namespace tunefleet::store
