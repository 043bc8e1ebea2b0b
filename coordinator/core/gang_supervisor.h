#pragma once
// The gang supervisor: what the coordinator watches of each running attempt
// (a gang) until it ends: its ranks as their workers report them (phase, exit
// code, step, when the step last advanced), its drain, and a rank's failure
// whose verdict waits for the gang's other workers. From that state and the
// time it answers which attempts must end, and why: a drain complete, a
// deferred failure overdue, a gang hung. The periodic checks visit only what
// is due: running attempts are indexed by the time each would be hung, and
// deferred failures by the time they become the job's.
//
// Memory only, used under ControlPlane's lock: ControlPlane writes an
// attempt's start and end to the Store first and applies them here after. It
// reads no other manager; its answers are decisions ControlPlane carries out.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "tunefleet/v1/job_service.pb.h"
#include "tunefleet/v1/worker_service.pb.h"

namespace tunefleet::coordinator {

// A rank that holds (or is about to hold) its slots: starting, training or saving.
bool IsLivePhase(v1::RankPhase phase);

// One rank of a running attempt.
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

// Hung ranks: no step advance for max(multiplier x recent step time, floor),
// or `startup` before the first step.
struct HangPolicy {
  double multiplier = 10;
  absl::Duration floor = absl::Minutes(2);
  absl::Duration startup = absl::Minutes(10);
};

// One running attempt, as the supervisor keeps it (changed only through it).
struct GangAttempt {
  int64_t generation = 0;
  absl::Time start;
  std::vector<RankRuntime> ranks;  // by rank
  int32_t rendezvous_port = 0;     // reported by rank 0's worker
  std::string rendezvous_secret;   // see Assignment.rendezvous_secret; memory only
  // Drain: every rank was (or is being) told to checkpoint and exit 75; the
  // attempt ends when all have exited or at the deadline.
  bool draining = false;
  absl::Time drain_deadline;
  std::set<std::string> drain_asked;  // workers sent the request
  // A rank of a gang spanning several workers failed. When a peer's worker
  // dies (kill -9, power), the other ranks' collectives fail at once, long
  // before its silence is noticed; so the failure is charged to the job only
  // once every other worker of the gang has heartbeated since (it is alive),
  // and the attempt ends WORKER_LOST, not counted, if one is declared lost first.
  bool failure_pending = false;
  std::string failure_detail;
  absl::Time failure_since;
  std::set<std::string> failure_waits_for;  // gang workers not heard from since
  // The gang's progress is its most advanced rank's (see HungGangs); past
  // hang_due without progress it is hung. Kept by the supervisor.
  size_t lead = 0;
  absl::Time hang_due = absl::InfiniteFuture();

  // Whether `worker`'s assignment must wait for rank 0's rendezvous port: a
  // multi-rank gang's other workers need it, and rank 0's worker picks it.
  bool WaitsForPort(const std::string& worker) const {
    return ranks.size() > 1 && ranks[0].worker != worker && rendezvous_port == 0;
  }
};

class GangSupervisor {
 public:
  // `failure_timeout`: how long a deferred failure waits for the gang's
  // other workers before it is the job's after all.
  GangSupervisor(HangPolicy hang, absl::Duration failure_timeout) : hang_(hang), failure_timeout_(failure_timeout) {}

  // `job`'s attempt runs on `ranks` (each last advanced at `now`), from `now`;
  // replaces any attempt of `job`. Also for attempts resumed after a
  // coordinator restart.
  const GangAttempt& Start(const std::string& job, int64_t generation, std::vector<RankRuntime> ranks,
                           std::string rendezvous_secret, absl::Time now);
  // The attempt's end is saved: it is no longer supervised.
  void End(const std::string& job);
  // `job`'s running attempt; nullptr when none.
  const GangAttempt* Find(const std::string& job) const;
  size_t size() const { return attempts_.size(); }

  // What rank `rank`'s worker reports of it. A step past the rank's last is
  // progress: its pace is measured and its stall clock starts again.
  void Report(const std::string& job, size_t rank, v1::RankPhase phase, int32_t exit_code, int64_t step,
              absl::Time now);
  void SetRendezvousPort(const std::string& job, int32_t port);

  // The attempt is drained by `deadline` (a drain may stall its steps, so it
  // is no longer judged hung). True when it was not draining: its workers
  // must be asked.
  bool Drain(const std::string& job, absl::Time deadline);
  // Whether `worker` is still to be asked for the attempt's drain; it counts
  // as asked from now on.
  bool AskDrain(const std::string& job, const std::string& worker);
  // A draining attempt whose ranks have all exited: the message it ends with
  // (DRAINED). nullopt while one still runs or never started, or when not draining.
  std::optional<std::string> DrainComplete(const std::string& job) const;

  // A rank of the attempt failed, reported by `reporter`: true when the
  // verdict waits for the gang's other workers (or a failure already does),
  // false when the attempt must end now (one worker: nothing else can explain it).
  bool DeferFailure(const std::string& job, const std::string& reporter, const std::string& detail, absl::Time now);
  // `worker` was heard from: when the attempt's deferred failure waited on it
  // last, the failure's detail (the attempt must end, TRAINER_FAILED).
  std::optional<std::string> Heard(const std::string& job, const std::string& worker);

  // Attempts that must end, and why; `job` ids the JobTable's entry.
  struct Verdict {
    std::string job;
    v1::AttemptEndReason reason;
    std::string detail;
  };
  // Deferred failures whose gang workers were neither heard from nor
  // declared lost within the timeout (cannot normally happen): TRAINER_FAILED.
  std::vector<Verdict> OverdueFailures(absl::Time now) const;
  // Gangs, not draining, whose most advanced rank made no progress within
  // its allowance: RANK_HUNG. Visits only the gangs due.
  std::vector<Verdict> HungGangs(absl::Time now) const;

 private:
  using DueIndex = std::set<std::pair<absl::Time, std::string>>;
  GangAttempt* Mutable(const std::string& job);
  // The gang's lead rank and when it would be hung, in hang_due_.
  void Reindex(const std::string& job, GangAttempt& attempt);
  absl::Duration Allowance(const RankRuntime& rank) const;

  const HangPolicy hang_;
  const absl::Duration failure_timeout_;
  std::map<std::string, GangAttempt> attempts_;  // by job name
  DueIndex hang_due_;      // (hang_due, job) of attempts not draining
  DueIndex failures_due_;  // (failure_since + failure_timeout, job)
};

}  // namespace tunefleet::coordinator
