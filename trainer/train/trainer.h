#pragma once
// One rank's training loop over its components, each with one job: the
// model and its flat parameters, this rank's data, the optimizer, the
// checkpointer (its own cadence; every component's state goes into its
// checkpoints), the step reporter, and the ranks' agreement (every decision
// the ranks take together, one collective per step). Set-up from the job
// spec is training_run.cc's; this is the algorithm alone.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/dist/rank_agreement.h"
#include "trainer/model/llama_model.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/rank_data.h"
#include "trainer/train/run_checkpointer.h"
#include "trainer/train/step_reporter.h"
#include "trainer/train/train_step.h"
#include "trainer/train/validation_tracker.h"

namespace tunefleet {

enum class RunEnd {
  kCompleted,               // every step trained, evaluated (export is the caller's)
  kStoppedEarly,            // the validation loss stopped improving (patience): as completed, at last_step()
  kStoppedAfterCheckpoint,  // stopped on request once a checkpoint committed: resumable
};

// The components, none owned; they outlive the Trainer.
struct TrainerParts {
  CausalLM& model;
  FlatParameters& params;
  RankData& data;  // not const: a task mix advances, and dynamic mixing re-weighs it
  StepOptimizer& optimizer;
  RunCheckpointer& checkpointer;
  StepReporter& reporter;
  RankAgreement& agreement;
  ValidationTracker& validation;
};

struct TrainerSettings {
  LrSchedule schedule;
  double max_grad_norm = 0;     // 0: no clipping
  int64_t eval_every = 0;       // 0: only after the last step
  // Save at every evaluation that is a new best (checkpoint.keep_best).
  bool save_best = false;
  // Set from signal handlers, read at each step's end and agreed over ranks
  // (any rank's request counts for all, so all save the same step): stop
  // (SIGTERM, SIGINT): save, then RunEnd::kStoppedAfterCheckpoint; save
  // (SIGUSR1): save and go on (cleared here). Null: never.
  const std::atomic<bool>* stop_requested = nullptr;
  std::atomic<bool>* save_requested = nullptr;
};

class Trainer {
 public:
  Trainer(TrainerParts parts, TrainerSettings settings) : parts_(parts), settings_(settings) {}

  // Resumes from the newest valid checkpoint (if any), trains every
  // remaining step, commits the last checkpoint and evaluates; or stops
  // early on request once a checkpoint is committed.
  absl::StatusOr<RunEnd> Run();
  // The step the run ended at (the total, or where it stopped).
  int64_t last_step() const { return last_step_; }

 private:
  absl::StatusOr<int64_t> Resume();
  StepVote Vote(const StepResult& result, const absl::Status& save_error);
  // Not OK when the agreed step ends the run now: a failed save (here or on
  // another rank), a non-finite loss, a stop without checkpoints to resume.
  absl::Status EndsTheRun(const StepDecision& decision, const absl::Status& save_error, int64_t step) const;
  // Whether the validation loss (if any) was a new best.
  absl::StatusOr<bool> Evaluate(int64_t step);
  // Ends the run at `step` once patience ran out: its checkpoint committed.
  absl::StatusOr<RunEnd> StopEarly(int64_t step);
  // Multi-task: each task's part of the agreed step.
  std::vector<TaskStepReport> TaskReports(const StepBatches& batches, const StepDecision& decision) const;
  // INVERSE_VALIDATION_LOSS mixing: the next steps' probabilities from the tasks' validation losses.
  absl::Status Remix(const std::vector<std::optional<double>>& task_losses);
  // Waits for the checkpoint in flight; OK only when it committed on every rank.
  absl::Status CommitOnEveryRank(const std::string& what);
  absl::StatusOr<RunEnd> StopAfter(int64_t step);

  TrainerParts parts_;
  TrainerSettings settings_;
  int64_t last_step_ = 0;
};

}  // namespace tunefleet
