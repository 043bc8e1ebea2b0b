#pragma once
// Which sequences each rank reads at each optimizer step.
//
// The global batch of step (epoch, step) is a fixed set of sequences,
// chosen by (seed, epoch) alone and independent of the world size: the
// epoch's order is a seeded permutation of all sequences, and step k takes
// its k-th run of global_batch_size. Rank r of N reads the r-th contiguous
// slice of that batch, split into micro-batches; so a job resumed at another
// world size trains on exactly the data it would have.
//
// An epoch is floor(num_sequences / global_batch_size) steps: the last
// partial global batch is dropped, as every step must have the same size
// (the LR schedule and the loss normalisation assume it). The dropped
// sequences differ from epoch to epoch, since each epoch reshuffles.

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tunefleet {

// Where the data stream stands: the next optimizer step to read. Saved in
// checkpoints; restoring it resumes the exact sequence of batches.
struct DataPosition {
  int64_t epoch = 0;
  int64_t step_in_epoch = 0;

  bool operator==(const DataPosition& o) const { return epoch == o.epoch && step_in_epoch == o.step_in_epoch; }
  bool operator!=(const DataPosition& o) const { return !(*this == o); }
};

struct SamplerOptions {
  int64_t num_sequences = 0;
  int global_batch_size = 1;
  int micro_batch_size = 1;
  int world_size = 1;
  int rank = 0;
  uint64_t seed = 0;
  bool shuffle = true;  // false: every epoch in sequence order (tests, debugging)
};

// INVALID_ARGUMENT unless global_batch_size is a positive multiple of
// micro_batch_size * world_size and 0 <= rank < world_size: how every
// sampler (one dataset, a task mix) splits a global batch over ranks.
absl::Status CheckBatchGeometry(int32_t micro_batch_size, int32_t world_size, int64_t global_batch_size, int32_t rank);

class BatchSampler {
 public:
  // INVALID_ARGUMENT unless global_batch_size is a positive multiple of
  // micro_batch_size * world_size and 0 <= rank < world_size;
  // FAILED_PRECONDITION if the dataset has fewer sequences than one global batch.
  static absl::StatusOr<BatchSampler> Create(const SamplerOptions& options);

  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // Micro-batches per rank per optimizer step: global / (micro * world).
  int grad_accum_steps() const { return grad_accum_steps_; }
  const SamplerOptions& options() const { return options_; }

  // The global batch's sequence indices, in order. pos.step_in_epoch must be
  // < steps_per_epoch().
  std::vector<int64_t> GlobalBatch(const DataPosition& pos) const;
  // This rank's micro-batch `micro` (0 <= micro < grad_accum_steps()).
  std::vector<int64_t> MicroBatchIndices(const DataPosition& pos, int micro) const;

  // OK if `pos` is a position of this sampler (step_in_epoch within the
  // epoch); OUT_OF_RANGE otherwise, e.g. a checkpoint's position after the
  // dataset shrank. Check a restored position before reading from it.
  absl::Status CheckPosition(const DataPosition& pos) const;

  // The position after `pos`, rolling over to the next epoch.
  DataPosition Next(const DataPosition& pos) const;
  // The position of the global_step-th optimizer step from the start.
  DataPosition PositionOfStep(int64_t global_step) const;

 private:
  explicit BatchSampler(const SamplerOptions& options);
  const std::vector<int64_t>& EpochOrder(int64_t epoch) const;

  SamplerOptions options_;
  int64_t steps_per_epoch_ = 0;
  int grad_accum_steps_ = 0;
  // The last epoch's order, cached: a permutation of every sequence is
  // O(n) to draw, and a step reads only a few. Makes the sampler
  // single-threaded (one per rank, read by its training loop).
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

// Optimizer steps of a training run: max_steps when positive (the data
// repeats, epoch after epoch, as needed); else ceil(epochs * steps_per_epoch)
// with epochs defaulting to 1 when zero, as Hugging Face's Trainer counts.
// INVALID_ARGUMENT for negative values or a count of zero.
absl::StatusOr<int64_t> TotalTrainingSteps(int64_t max_steps, double epochs, int64_t steps_per_epoch);

// Validation: every sequence once, in order, no shuffle and nothing
// dropped. Rank r reads the r-th contiguous shard of the set, in
// micro-batches of at most micro_batch_size rows (the last may be smaller;
// a rank may have one batch fewer than another, or none: the trainer sums
// loss and token counts over ranks). With max_batches > 0 only the first
// max_batches x micro_batch_size sequences take part (evaluation.max_batches):
// the same sequences at every world size, so the loss stays comparable.
// Empty for invalid arguments.
std::vector<std::vector<int64_t>> EvalMicroBatches(int64_t num_sequences, int micro_batch_size, int rank,
                                                   int world_size, int max_batches = 0);

}  // namespace tunefleet
