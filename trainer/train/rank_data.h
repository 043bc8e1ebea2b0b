#pragma once
// The job's data as one rank trains on it: the dataset read, tokenized and
// packed once (trainer/data), then this rank's slice of each optimizer
// step's global batch and its share of the validation set, as tensors.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/data/data_loader.h"
#include "trainer/data/data_pipeline.h"
#include "trainer/tokenizer/tokenizer.h"
#include "trainer/train/batch_tensors.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

struct StepBatches {
  DataPosition position;                    // where in the data stream this step reads
  std::vector<BatchTensors> micro_batches;  // this rank's, in order
  int64_t global_loss_tokens = 0;           // over the whole global batch (every rank)
};

class RankData {
 public:
  // Reads, tokenizes and packs per `spec` (defaults applied). Every rank
  // gets the same packing, so ranks agree on the data without exchanging it.
  static absl::StatusOr<std::unique_ptr<RankData>> Load(const v1::JobSpec& spec, const Tokenizer& tokenizer, int rank,
                                                        int world_size, const torch::Device& device);

  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return loader_->steps_per_epoch(); }
  int grad_accum_steps() const { return loader_->grad_accum_steps(); }
  // The micro-batches of optimizer step `step` (0-based, counted from the
  // start of training; the data repeats epoch after epoch).
  StepBatches ForStep(int64_t step) const;
  // This rank's share of the validation set; empty when there is none.
  const std::vector<BatchTensors>& validation() const { return validation_; }
  std::string Summary() const { return data_.Summary(); }
  // The training data's format, as given or detected from its first line.
  v1::DatasetFormat format() const { return data_.format; }

 private:
  RankData(TrainingData data, const torch::Device& device) : data_(std::move(data)), device_(device) {}

  TrainingData data_;
  torch::Device device_;
  std::unique_ptr<DataLoader> loader_;  // reads data_.train, so data_ must not move after
  int64_t total_steps_ = 0;
  std::vector<BatchTensors> validation_;
};

// Copies a micro-batch into int64 tensors [rows, seq_len] on `device`.
BatchTensors ToTensors(const MicroBatch& batch, const torch::Device& device);

}  // namespace tunefleet
