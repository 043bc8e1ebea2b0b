#pragma once
// The coordinator's durable state, behind an interface: jobs, their events,
// their attempts, and workers. SQLite (sqlite_store.h) is the one backend
// today; a replicated engine (PostgreSQL, etcd) can take its place behind the
// same calls for a highly available control plane (docs/control_plane.md).
//
// The contract every backend keeps:
//   - a write is durable when the call returns OK (the control plane applies
//     a change to memory and replies only after that);
//   - a failed write changed nothing, and says UNAVAILABLE when it may succeed
//     later (full disk, read-only file, lost connection), so the RPC that
//     asked for it fails with UNAVAILABLE and is retried;
//   - one writer: a backend refuses a second control plane on the same state
//     (FAILED_PRECONDITION naming the holder) rather than letting two diverge.
//
// Not thread-safe: the control plane calls it under its own mutex.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tunefleet/v1/job.pb.h"
#include "tunefleet/v1/sweep_service.pb.h"
#include "tunefleet/v1/worker.pb.h"

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
  int64_t last_event = 0;  // the newest event's sequence (events stay in the store)
};

// A job to insert, with its first events.
struct NewJob {
  v1::Job job;
  std::string request_id;
  std::vector<v1::JobEvent> events;
};

// How much metric history a job keeps in the store: the newest samples,
// within both bounds.
struct MetricRetention {
  int64_t samples = 10000;
  int64_t bytes = 16 * 1024 * 1024;
};

// A sweep as saved: its points name its member jobs, which are jobs rows.
struct StoredSweep {
  v1::Sweep sweep;
  std::string request_id;
};

class Store {
 public:
  virtual ~Store() = default;

  // Inserts new jobs in one transaction (group commit: one sync for all);
  // returns their submission orders, in turn. All or nothing: ALREADY_EXISTS
  // when a name is taken, and then none is inserted.
  virtual absl::StatusOr<std::vector<int64_t>> InsertJobs(const std::vector<NewJob>& jobs) = 0;
  // One job: InsertJobs of one.
  absl::StatusOr<int64_t> InsertJob(const v1::Job& job, const std::string& request_id,
                                    const std::vector<v1::JobEvent>& events) {
    auto orders = InsertJobs({NewJob{job, request_id, events}});
    if (!orders.ok()) return orders.status();
    return orders->front();
  }
  // Replaces a job's row, appends `events` and puts `attempt`, in one transaction.
  virtual absl::Status UpdateJob(const v1::Job& job, const std::vector<v1::JobEvent>& events,
                                 const std::optional<AttemptRecord>& attempt = std::nullopt) = 0;
  // Group commit of job changes (a scheduling pass's placements, attempts
  // ending together): each as UpdateJob, all in one transaction (one sync).
  // All or nothing: on error none is saved.
  struct JobUpdate {
    v1::Job job;
    std::vector<v1::JobEvent> events;
    std::optional<AttemptRecord> attempt;
  };
  virtual absl::Status UpdateJobs(const std::vector<JobUpdate>& updates) = 0;
  virtual absl::Status PutWorker(const v1::Worker& worker) = 0;

  // Every job, in submission order. A row that does not read back is named
  // (table, key, column, why): refused, or quarantined, per the backend's options.
  virtual absl::StatusOr<std::vector<StoredJob>> LoadJobs() = 0;
  // One job, as LoadJobs reads it; NOT_FOUND when there is none. Finished
  // jobs leave the control plane's memory and are read back from here.
  virtual absl::StatusOr<StoredJob> LoadJob(const std::string& name) = 0;
  // At most `limit` jobs with submission order > `after`, in order; only
  // jobs in one of `states` when it is not empty (ListJobs' pages).
  virtual absl::StatusOr<std::vector<StoredJob>> LoadJobsAfter(int64_t after, const std::vector<v1::JobState>& states,
                                                               int64_t limit) = 0;
  // A worker gone for good leaves the registry.
  virtual absl::Status DeleteWorker(const std::string& name) = 0;
  // Events of `job` with sequence > `after`, oldest first, at most `limit` (0: all).
  virtual absl::StatusOr<std::vector<v1::JobEvent>> LoadEvents(const std::string& job, int64_t after,
                                                               int64_t limit = 0) = 0;
  // Every attempt of `job`, oldest first.
  virtual absl::StatusOr<std::vector<AttemptRecord>> LoadAttempts(const std::string& job) = 0;
  virtual absl::StatusOr<std::vector<v1::Worker>> LoadWorkers() = 0;

  // Sweeps (coordinator/sweeps/). A sweep and its member jobs are inserted
  // in one transaction, all or nothing (ALREADY_EXISTS when a name is taken);
  // returns the members' submission orders, in turn.
  virtual absl::StatusOr<std::vector<int64_t>> InsertSweep(const v1::Sweep& sweep, const std::string& request_id,
                                                           const std::vector<NewJob>& members) = 0;
  // Replaces a sweep's row (NOT_FOUND when there is none).
  virtual absl::Status UpdateSweep(const v1::Sweep& sweep) = 0;
  // Every sweep, oldest first; a row that does not read back is DATA_LOSS naming it.
  virtual absl::StatusOr<std::vector<StoredSweep>> LoadSweeps() = 0;

  // Metric samples (WatchJobMetrics, `tunefleet plot`): high-rate, derived
  // data whose full copy is each rank's metrics JSONL, so an append is not
  // synced on its own; it becomes durable with the next state write. The
  // oldest go first once a job holds more than `keep` allows, so a flood
  // from a worker cannot fill the coordinator's disk.
  virtual absl::Status AppendMetrics(const std::string& job, const std::vector<v1::MetricSample>& samples,
                                     const MetricRetention& keep) = 0;
  // The job's kept samples, oldest first.
  virtual absl::StatusOr<std::vector<v1::MetricSample>> LoadMetrics(const std::string& job) = 0;
};

}  // namespace tunefleet::store
