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
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/metrics/step_time.h"
#include "tunefleet/v1/job_service.pb.h"
#include "tunefleet/v1/worker_service.pb.h"

namespace tunefleet::coordinator {

// One rank of a job's current attempt.
struct RankRuntime {
  std::string worker;
  std::vector<int32_t> gpus;
  v1::RankPhase phase = v1::RANK_PHASE_UNSPECIFIED;
  bool acknowledged = false;  // the worker has reported it at least once
  int32_t exit_code = 0;
  // Progress, for hung-rank detection (coordinator's clock).
  int64_t step = 0;
  absl::Time last_advance;
  absl::Duration step_time;  // smoothed seconds per step; zero until measured
};
// A job in memory: its row (job) and what only memory knows of its current
// attempt (ranks, drain, a deferred failure) and of its last one (for logs).
struct JobEntry {
  v1::Job job;
  int64_t order = 0;
  std::string request_id;  // CreateJob's; a retry with it is the same job
  int64_t last_event = 0;  // the newest event's sequence; the events stay in the store
  absl::Time queued_since;
  absl::Time attempt_start;
  std::vector<RankRuntime> ranks;  // current attempt, by rank
  // Drain of this attempt: every rank was (or is being) told to checkpoint
  // and exit 75; the attempt ends when all have exited or at the deadline.
  bool draining = false;
  std::set<std::string> drain_asked;  // workers sent the request
  absl::Time drain_deadline;
  int32_t rendezvous_port = 0;  // reported by rank 0's worker
  std::string rendezvous_secret;  // per attempt (see Assignment.rendezvous_secret); memory only
  // A rank of a gang spanning several workers failed. When a peer's worker
  // dies (kill -9, power), the other ranks' collectives fail at once, long
  // before its silence is noticed; so the failure is charged to the job only
  // once every other worker of the gang has heartbeated since (it is alive),
  // and the attempt ends WORKER_LOST, not counted, if one is declared lost first.
  bool failure_pending = false;
  std::string failure_detail;
  absl::Time failure_since;
  std::set<std::string> failure_waits_for;  // gang workers not heard from since
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

  Map jobs_;
  std::map<int64_t, std::string> by_order_;
  std::map<std::string, std::string> by_request_id_;
  Queue queue_;  // entries of jobs_
  int64_t forgotten_ = 0;
};

}  // namespace tunefleet::coordinator
