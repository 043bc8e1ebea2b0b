#pragma once
// The coordinator's durable state, in one SQLite file (WAL, synchronous=FULL):
// jobs, their events, their attempts, and workers. Every write is one
// transaction that is on disk when the call returns, so a job acknowledged by
// CreateJob survives kill -9. Messages are stored as serialized protos beside
// the few columns that queries need.
//
// Not thread-safe: the control plane calls it under its own mutex.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tunefleet/v1/job.pb.h"
#include "tunefleet/v1/worker.pb.h"

struct sqlite3;

namespace tunefleet::store {

// One attempt of one job: where it ran and how it ended.
struct AttemptRecord {
  std::string job;  // "jobs/{id}"
  int64_t attempt = 0;
  int64_t generation = 0;
  std::vector<v1::RankPlacement> placements;
  int64_t start_unix_micros = 0;
  int64_t end_unix_micros = 0;  // 0 while running
  v1::AttemptEndReason end_reason = v1::ATTEMPT_END_REASON_UNSPECIFIED;
  std::string end_message;
};

struct StoredJob {
  v1::Job job;
  int64_t order = 0;  // submission order (FIFO)
  std::string request_id;
};

class Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inserts a new job; returns its submission order. ALREADY_EXISTS when the
  // name is taken.
  absl::StatusOr<int64_t> InsertJob(const v1::Job& job, const std::string& request_id,
                                    const std::vector<v1::JobEvent>& events);
  // Replaces a job's row and appends `events`, in one transaction.
  absl::Status UpdateJob(const v1::Job& job, const std::vector<v1::JobEvent>& events,
                         const std::optional<AttemptRecord>& attempt = std::nullopt);
  absl::Status PutWorker(const v1::Worker& worker);

  absl::StatusOr<std::vector<StoredJob>> LoadJobs();
  absl::StatusOr<std::vector<v1::JobEvent>> LoadEvents(const std::string& job, int64_t after);
  absl::StatusOr<std::vector<AttemptRecord>> LoadAttempts(const std::string& job);
  absl::StatusOr<std::vector<v1::Worker>> LoadWorkers();

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);
  absl::Status AppendEvents(const std::vector<v1::JobEvent>& events);
  absl::Status PutAttempt(const AttemptRecord& attempt);

  sqlite3* db_;
};

}  // namespace tunefleet::store
