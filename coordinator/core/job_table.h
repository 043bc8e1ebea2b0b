#pragma once
// The job table: every job in memory (active ones, and finished ones within
// their retention), indexed by name, by submission order, by CreateJob's
// request id, and, for QUEUED ones, in the scheduler's order (the queue the
// placement pass reads). Finished jobs past their retention leave it (the
// Store still serves them).
//
// Memory only, used under ControlPlane's lock: ControlPlane writes a job's
// row (and its events) to the Store first and applies the change here after,
// through Set, which keeps the queue in step with each job's state.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/metrics/step_time.h"
#include "tunefleet/v1/job_service.pb.h"

namespace tunefleet::coordinator {

// A job in memory: its row (job) and what only memory knows of it: its last
// attempt's placement (for logs) and checkpoint and step figures. A running
// attempt's ranks, drain and deferred failure are the GangSupervisor's.
struct JobEntry {
  v1::Job job;
  int64_t order = 0;
  std::string request_id;  // CreateJob's; a retry with it is the same job
  int64_t last_event = 0;  // the newest event's sequence; the events stay in the store
  absl::Time queued_since;
  // The newest attempt's rank -> worker, kept after it ends, for logs.
  std::vector<std::string> last_rank_workers;
  int64_t last_attempt = 0;
  absl::Time last_checkpoint_time = absl::InfinitePast();
  double checkpoint_save_seconds = -1;
  StepTime step_time;
};

class JobTable {
 public:
  using Map = std::map<std::string, JobEntry>;  // by name ("jobs/{id}")
  // The scheduler's order: priority (higher first), then submission.
  using QueueKey = std::tuple<int32_t, int64_t, std::string>;  // -priority, order, name
  using Queue = std::map<QueueKey, JobEntry*>;

  // nullptr when not in memory.
  JobEntry* Find(const std::string& name);
  const JobEntry* Find(const std::string& name) const;
  // INVALID_ARGUMENT for a name that is not "jobs/{id}", NOT_FOUND when not in memory.
  absl::StatusOr<JobEntry*> Get(const std::string& name);
  // A job known to be in memory (named by an index of this table or a placement).
  JobEntry& At(const std::string& name) { return jobs_.at(name); }

  // A job whose row is durable: indexed by name, order and request id, and
  // queued when QUEUED. Entries stay put (pointers hold) until Forget.
  JobEntry& Add(JobEntry entry);
  // The only way a job in memory changes its row: keeps the queue current.
  // True when the job is QUEUED afterwards (a placement pass may place it).
  bool Set(JobEntry& entry, v1::Job next);
  // The job a CreateJob with this request id made; nullptr when none (or forgotten).
  const JobEntry* ForRequest(const std::string& request_id) const;
  // Finished jobs that ended at or before `cutoff` leave every index; their names.
  std::vector<std::string> ForgetEndedBy(absl::Time cutoff);

  // QUEUED jobs (backing off included), in the scheduler's order.
  const Queue& queue() const { return queue_; }
  // Names in submission order.
  const std::map<int64_t, std::string>& by_order() const { return by_order_; }
  size_t size() const { return jobs_.size(); }
  int64_t forgotten() const { return forgotten_; }
  Map::iterator begin() { return jobs_.begin(); }
  Map::iterator end() { return jobs_.end(); }
  Map::const_iterator begin() const { return jobs_.begin(); }
  Map::const_iterator end() const { return jobs_.end(); }

  // The event that follows `entry`'s newest, describing `job` (its row after the change).
  static v1::JobEvent NextEvent(const JobEntry& entry, const v1::Job& job, const std::string& message,
                                absl::Time now);

 private:
  static QueueKey QueueKeyOf(const JobEntry& entry);
  using EndKey = std::pair<absl::Time, std::string>;  // end_time, name
  static EndKey EndKeyOf(const JobEntry& entry);

  Map jobs_;
  std::map<int64_t, std::string> by_order_;
  std::map<std::string, std::string> by_request_id_;
  Queue queue_;  // entries of jobs_
  std::set<EndKey> ended_;  // finished jobs of jobs_, by end time (ForgetEndedBy)
  int64_t forgotten_ = 0;
};

}  // namespace tunefleet::coordinator
