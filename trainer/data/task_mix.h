#pragma once
// Multi-task mixing: which task each slot of each global batch reads, and
// which of that task's sequences.
//
// Each task is packed on its own, so a sequence belongs to one task. For
// global step s and slot j of its global batch, a counter-based draw
// u = U(seed, s, j) in [0, 1) picks the task whose cumulative probability
// interval holds u; that task then yields its next sequence: its k-th pick
// (k counted over the whole run) is element k mod n of its epoch
// floor(k / n)'s seeded permutation (n: the task's sequences). Rank r of N
// reads the r-th contiguous slice of the global batch, as BatchSampler
// does, so the global batches do not depend on the world size, and a job
// resumed at another world size trains on the same data.
//
// The state between steps is small (per-task pick counts and the current
// probabilities, TaskMixState) and is saved in checkpoints: dynamic mixing
// changes the probabilities during the run, so a step's batch is not a
// function of the step alone.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// The probabilities a mix starts with (docs/job_spec.md, "Multi-task
// mixes"): STATIC (and INVERSE_VALIDATION_LOSS before its first evaluation)
// p_i = w_i / sum_j w_j; TEMPERATURE p_i = n_i^(1/T) / sum_j n_j^(1/T).
// `weights` and `sizes` have one entry per task.
std::vector<double> InitialMixProbabilities(v1::TaskMixingStrategy strategy, const std::vector<double>& weights,
                                            const std::vector<int64_t>& sizes, double temperature);

// INVERSE_VALIDATION_LOSS after an evaluation: q_i = w_i * L_i / sum_j w_j * L_j
// (a task the model does worse on gets more of the batch), then every
// probability below `floor` is raised to it and the others scaled down to
// keep the sum 1 (repeated until none is below; floor <= 1 / tasks).
// A task without a finite positive loss keeps q_i = floor.
std::vector<double> LossBalancedProbabilities(const std::vector<double>& weights, const std::vector<double>& losses,
                                              double floor);

// Where a mix stands before global step `step`: how many sequences each task
// has yielded so far, and the probabilities the next steps draw with.
struct TaskMixState {
  int64_t step = 0;
  std::vector<int64_t> picks;
  std::vector<double> probabilities;

  // One line of text for a checkpoint's trainer state (exact: %.17g).
  std::string Serialize() const;
  // DATA_LOSS for malformed text.
  static absl::StatusOr<TaskMixState> Parse(absl::string_view text);
};

// One slot of a global batch.
struct TaskSequence {
  int task = 0;
  int64_t sequence = 0;  // index into the task's packed training set

  bool operator==(const TaskSequence& o) const { return task == o.task && sequence == o.sequence; }
};

struct TaskMixOptions {
  std::vector<int64_t> task_sequences;  // packed training sequences per task, each >= 1
  int global_batch_size = 1;
  int micro_batch_size = 1;
  int world_size = 1;
  int rank = 0;
  uint64_t seed = 0;
};

class TaskMixSampler {
 public:
  // INVALID_ARGUMENT for a bad batch geometry (as BatchSampler), no task, a
  // task with no sequence, or probabilities that are not one per task,
  // non-negative and summing to 1.
  static absl::StatusOr<TaskMixSampler> Create(const TaskMixOptions& options, std::vector<double> probabilities);

  int num_tasks() const { return static_cast<int>(options_.task_sequences.size()); }
  int grad_accum_steps() const { return grad_accum_steps_; }
  // floor(sum of the tasks' sequences / global_batch_size): what `epochs` counts.
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  const TaskMixState& state() const { return state_; }

  // Continues from `state` (a checkpoint's): FAILED_PRECONDITION when it
  // does not fit this mix (another number of tasks).
  absl::Status Restore(const TaskMixState& state);
  // From the next step on, draw with `probabilities` (dynamic mixing).
  absl::Status SetProbabilities(std::vector<double> probabilities);

  // The global batch of `step`, and advances the state past it. Steps are
  // read in order from the state's step; an earlier step replays from the
  // start with the current probabilities (exact for a fixed mix).
  std::vector<TaskSequence> GlobalBatch(int64_t step);
  // This rank's micro-batch `micro` of a global batch.
  std::vector<TaskSequence> MicroBatch(const std::vector<TaskSequence>& global, int micro) const;

 private:
  TaskMixSampler(const TaskMixOptions& options, std::vector<double> probabilities);
  int DrawTask(int64_t step, int slot) const;
  int64_t SequenceOfPick(int task, int64_t pick) const;

  TaskMixOptions options_;
  int grad_accum_steps_ = 0;
  int64_t steps_per_epoch_ = 0;
  std::vector<double> initial_probabilities_;
  TaskMixState state_;
  // Each task's last epoch order, cached (one permutation per task epoch).
  mutable std::vector<int64_t> cached_epoch_;
  mutable std::vector<std::vector<int64_t>> cached_order_;
};

}  // namespace tunefleet
