#pragma once
// The trainer's metrics stream (trainer/metrics/metrics_stream.h), as the
// worker, coordinator and CLI read it: event names and field keys, named once.
// Header-only, no dependencies: the trainer includes it too.
//
// The committed flag of a "checkpoint" event is the number 1 (0: the files
// were written but not committed). The worker passes numbers through as
// values and JSON booleans as the text "true"/"false"; readers use
// CheckpointCommitted (common/metric_samples.h), which accepts both and
// counts an absent flag as not committed.

namespace tunefleet::metric_keys {

// Events.
inline constexpr char kStepEvent[] = "step";
inline constexpr char kEvalEvent[] = "eval";
inline constexpr char kCheckpointEvent[] = "checkpoint";
inline constexpr char kLineageEvent[] = "lineage";  // rank 0, once per attempt
inline constexpr char kEvaluationEvent[] = "evaluation";  // rank 0, after the export
inline constexpr char kEarlyStopEvent[] = "early_stop";   // rank 0, when patience ran out

// Fields of every line.
inline constexpr char kEvent[] = "event";
inline constexpr char kStep[] = "step";
inline constexpr char kTime[] = "time";
inline constexpr char kRank[] = "rank";

// "step".
inline constexpr char kTotalSteps[] = "total_steps";
inline constexpr char kTrainLoss[] = "train_loss";
inline constexpr char kLearningRate[] = "learning_rate";
inline constexpr char kGradNorm[] = "grad_norm";
inline constexpr char kTokensPerSecond[] = "tokens_per_second";
// The step's wall time, in seconds, by phase (trainer/train/step_timer.h says
// how each is cut); they add up to the time since the previous step's line.
inline constexpr char kStepComputeSeconds[] = "step_compute_seconds";
inline constexpr char kStepCommSeconds[] = "step_comm_seconds";  // blocked on collectives
inline constexpr char kStepDataSeconds[] = "step_data_seconds";
inline constexpr char kStepOtherSeconds[] = "step_other_seconds";
// Data parallel only: the fraction (0-1, by bytes) of the step's gradient
// communication launched while backward was still computing.
inline constexpr char kStepCommOverlap[] = "step_comm_overlap";

// "eval".
inline constexpr char kEvalLoss[] = "eval_loss";

// Multi-task jobs (dataset.tasks): one field per task, the prefix followed by
// the task's name (IsValidTaskName: [A-Za-z0-9_.-]), e.g. "task_train_loss/math".
// "step": the task's mean token loss in the step (unweighted by its
// loss_weight; absent when the step drew none of it), and the tokens and
// examples it contributed to the global batch.
inline constexpr char kTaskTrainLossPrefix[] = "task_train_loss/";
inline constexpr char kTaskTokensPrefix[] = "task_tokens/";
inline constexpr char kTaskExamplesPrefix[] = "task_examples/";
// "eval": the task's validation loss, and the mixing probability the
// following steps draw it with.
inline constexpr char kTaskEvalLossPrefix[] = "task_eval_loss/";
inline constexpr char kTaskMixProbabilityPrefix[] = "task_mix_probability/";

// "checkpoint".
inline constexpr char kPath[] = "path";
inline constexpr char kSaveSeconds[] = "save_seconds";
inline constexpr char kStallSeconds[] = "stall_seconds";
inline constexpr char kBytes[] = "bytes";
inline constexpr char kCommitted[] = "committed";

// "lineage": one text field, the record as compact JSON
// (common/lineage/lineage_record.h), within one text value's limit
// (common/metric_sample_limits.h).
inline constexpr char kLineage[] = "lineage";

// "evaluation": one text field, the after-training A/B evaluation as compact
// proto JSON of v1::JobEvaluation (common/evaluation_report.h).
inline constexpr char kEvaluation[] = "evaluation";

// "early_stop": the best validation loss and its step.
inline constexpr char kBestEvalLoss[] = "best_eval_loss";
inline constexpr char kBestStep[] = "best_step";

}  // namespace tunefleet::metric_keys
