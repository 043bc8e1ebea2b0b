#pragma once
// The few decisions every rank of a job must take together, each one
// collective: what a step ends with (any rank's request to stop or save,
// a non-finite loss, a failed save: one all-reduce per step that also sums
// the step's loss and tokens), whether everyone finished cleanly, and the
// small facts set-up must share (rank 0's launch time, the resumed step).
// On one process (no collectives) every answer is this rank's own.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/dist/collectives.h"

namespace tunefleet {

// What one rank brings to the end of a step.
struct StepVote {
  bool stop = false;         // a SIGTERM/SIGINT here
  bool save_now = false;     // a SIGUSR1 here, or a checkpoint due by the clock
  bool save_failed = false;  // an earlier checkpoint save of this rank failed
  double loss_sum = 0;       // this rank's summed token losses of the step
  int64_t tokens = 0;        // tokens this rank trained on in the step
  std::vector<double> task_loss_sums;  // multi-task: this rank's summed token losses per task
};

// What all ranks agreed: a flag is set when any rank set it.
struct StepDecision {
  bool stop = false;
  bool save_now = false;
  bool save_failed = false;
  bool nan_seen = false;     // some rank's loss was not finite
  double loss_sum = 0;       // over ranks
  int64_t tokens = 0;        // over ranks
  std::vector<double> task_loss_sums;  // over ranks (multi-task; as many as voted)
};

class RankAgreement {
 public:
  // `collectives`: the job's; null on one process. Not owned.
  explicit RankAgreement(Collectives* collectives) : collectives_(collectives) {}

  int rank() const { return collectives_ != nullptr ? collectives_->rank() : 0; }
  int world_size() const { return collectives_ != nullptr ? collectives_->world_size() : 1; }
  bool leader() const { return rank() == 0; }
  bool distributed() const { return collectives_ != nullptr; }

  // The step's one collective.
  absl::StatusOr<StepDecision> AgreeOnStep(const StepVote& mine);

  // All done: `mine` when it failed; else an error when another rank's
  // `what` failed; else OK. Every rank calls it, whatever its own outcome.
  absl::Status AllSucceeded(const absl::Status& mine, const std::string& what);

  // Rank 0's value, on every rank (exact for |value| < 2^53).
  absl::StatusOr<int64_t> LeaderValue(int64_t value, const std::string& what);

  // OK when every rank passed the same value; else FailedPrecondition.
  absl::Status SameOnEveryRank(int64_t value, const std::string& what);

  // Element-wise sums over ranks (e.g. evaluation's loss sums and counts).
  absl::StatusOr<std::vector<double>> Sum(const std::vector<double>& values, const std::string& what);

 private:
  Collectives* collectives_;
};

}  // namespace tunefleet
