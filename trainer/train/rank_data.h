#pragma once
// The job's data as one rank trains on it: the dataset read, tokenized and
// packed once (trainer/data), then this rank's slice of each optimizer
// step's global batch and its share of the validation set, as tensors.
//
// A multi-task job (dataset.tasks) packs each task on its own and draws each
// global batch's slots from the tasks through a TaskMixSampler; its batches
// then carry each row's task and loss weight, and each step reports each
// task's share of the global batch.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/data/data_loader.h"
#include "trainer/data/data_pipeline.h"
#include "trainer/data/task_data.h"
#include "trainer/data/task_mix.h"
#include "trainer/tokenizer/tokenizer.h"
#include "trainer/train/batch_tensors.h"
#include "trainer/train/checkpointed_data_state.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// One task's share of a global batch (every rank's rows together).
struct TaskStepCounts {
  int64_t loss_tokens = 0;
  int64_t tokens = 0;    // not padding
  int64_t examples = 0;  // examples (or truncated pieces of them) in its rows
};

struct StepBatches {
  DataPosition position;                    // where in the data stream this step reads
  std::vector<BatchTensors> micro_batches;  // this rank's, in order
  int64_t global_loss_tokens = 0;           // over the whole global batch (every rank)
  std::vector<TaskStepCounts> tasks;        // multi-task: per task, in spec order; else empty
};

class RankData : public CheckpointedDataState {
 public:
  // Reads, tokenizes and packs per `spec` (defaults applied). Every rank
  // gets the same packing, so ranks agree on the data without exchanging it.
  static absl::StatusOr<std::unique_ptr<RankData>> Load(const v1::JobSpec& spec, const Tokenizer& tokenizer, int rank,
                                                        int world_size, const torch::Device& device);

  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int grad_accum_steps() const { return grad_accum_steps_; }
  // The micro-batches of optimizer step `step` (0-based, counted from the
  // start of training; the data repeats epoch after epoch). Steps are read
  // in order (a task mix advances its state).
  StepBatches ForStep(int64_t step);
  // This rank's share of the validation data: one set per task of a
  // multi-task job (empty for a task without validation data), else one set
  // (empty when there is none).
  const std::vector<std::vector<BatchTensors>>& validation_sets() const { return validation_sets_; }
  std::string Summary() const;
  // The training data's format, as given or detected from its first line
  // (a multi-task job: its first task's), and its chat template.
  v1::DatasetFormat format() const;
  // Each task's format, as given or detected, in spec order (multi-task).
  std::vector<v1::DatasetFormat> task_formats() const;

  // Multi-task: the tasks (0 for a single-dataset job), their names and
  // weights in spec order, the strategy, and the probabilities the next
  // steps draw with.
  int num_tasks() const { return static_cast<int>(tasks_.size()); }
  std::vector<std::string> task_names() const;
  std::vector<double> task_weights() const;
  v1::TaskMixing mixing() const { return mixing_; }
  std::vector<double> mix_probabilities() const;
  // Draw with `probabilities` from the next step on (dynamic mixing).
  absl::Status SetMixProbabilities(std::vector<double> probabilities);

  std::map<std::string, std::string> SaveDataState(int64_t step) const override;
  absl::Status RestoreDataState(const std::map<std::string, std::string>& extra, int64_t step) override;

 private:
  explicit RankData(const torch::Device& device) : device_(device) {}
  absl::Status LoadSingle(const v1::JobSpec& spec, const Tokenizer& tokenizer, int rank, int world_size);
  absl::Status LoadTasks(const v1::JobSpec& spec, const Tokenizer& tokenizer, int rank, int world_size);
  StepBatches ForStepOfMix(int64_t step);

  torch::Device device_;
  int64_t total_steps_ = 0;
  int64_t steps_per_epoch_ = 0;
  int grad_accum_steps_ = 0;
  std::vector<std::vector<BatchTensors>> validation_sets_;
  // One dataset: its data, read through loader_ (which points into data_,
  // so data_ must not move after).
  std::optional<TrainingData> data_;
  std::unique_ptr<DataLoader> loader_;
  // Several tasks.
  std::vector<TaskTrainingData> tasks_;
  v1::TaskMixing mixing_;
  std::optional<TaskMixSampler> mix_;
};

// Copies a micro-batch into int64 tensors [rows, seq_len] on `device`.
BatchTensors ToTensors(const MicroBatch& batch, const torch::Device& device);

// The checkpoint's trainer-state `extra` key of a task mix's state.
inline constexpr char kTaskMixStateKey[] = "task_mix";

}  // namespace tunefleet
