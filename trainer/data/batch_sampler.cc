#include "trainer/data/batch_sampler.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/job_spec_limits.h"
#include "trainer/data/shuffle.h"

namespace tunefleet {

BatchSampler::BatchSampler(const SamplerOptions& options)
    : options_(options),
      steps_per_epoch_(options.num_sequences / options.global_batch_size),
      grad_accum_steps_(options.global_batch_size / (options.micro_batch_size * options.world_size)) {}

absl::Status CheckBatchGeometry(int32_t micro_batch_size, int32_t world_size, int64_t global_batch_size, int32_t rank) {
  if (micro_batch_size < 1 || world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("micro_batch_size and world_size must be positive, got ",
                                                   micro_batch_size, " and ", world_size));
  }
  const int64_t per_step = int64_t{micro_batch_size} * world_size;
  if (global_batch_size < per_step || global_batch_size % per_step != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "global_batch_size must be a positive multiple of micro_batch_size * world_size = ", per_step, ", got ",
        global_batch_size));
  }
  if (rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, " is outside [0, ", world_size, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BatchSampler> BatchSampler::Create(const SamplerOptions& options) {
  if (absl::Status s = CheckBatchGeometry(options.micro_batch_size, options.world_size, options.global_batch_size,
                                          options.rank);
      !s.ok()) {
    return s;
  }
  if (options.num_sequences < options.global_batch_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the dataset packs into ", options.num_sequences, " sequences, fewer than one global batch of ",
        options.global_batch_size, ": add data, or lower global_batch_size or sequence_length"));
  }
  return BatchSampler(options);
}

const std::vector<int64_t>& BatchSampler::EpochOrder(int64_t epoch) const {
  if (epoch != cached_epoch_) {
    if (options_.shuffle) {
      cached_order_ = RandomPermutation(
          options_.num_sequences,
          DeriveSeed(options_.seed, kSeedPurposeEpochOrder, static_cast<uint64_t>(epoch)));
    } else {
      cached_order_.resize(static_cast<size_t>(options_.num_sequences));
      for (int64_t i = 0; i < options_.num_sequences; ++i) cached_order_[static_cast<size_t>(i)] = i;
    }
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

std::vector<int64_t> BatchSampler::GlobalBatch(const DataPosition& pos) const {
  const std::vector<int64_t>& order = EpochOrder(pos.epoch);
  const auto begin = order.begin() + pos.step_in_epoch * options_.global_batch_size;
  return std::vector<int64_t>(begin, begin + options_.global_batch_size);
}

std::vector<int64_t> BatchSampler::MicroBatchIndices(const DataPosition& pos, int micro) const {
  const std::vector<int64_t>& order = EpochOrder(pos.epoch);
  const int64_t per_rank = options_.global_batch_size / options_.world_size;
  const int64_t first = pos.step_in_epoch * options_.global_batch_size + options_.rank * per_rank +
                        int64_t{micro} * options_.micro_batch_size;
  const auto begin = order.begin() + first;
  return std::vector<int64_t>(begin, begin + options_.micro_batch_size);
}

absl::Status BatchSampler::CheckPosition(const DataPosition& pos) const {
  if (pos.epoch < 0 || pos.step_in_epoch < 0 || pos.step_in_epoch >= steps_per_epoch_) {
    return absl::OutOfRangeError(absl::StrCat("data position (epoch ", pos.epoch, ", step ", pos.step_in_epoch,
                                              ") is outside this dataset's epochs of ", steps_per_epoch_, " steps"));
  }
  return absl::OkStatus();
}

DataPosition BatchSampler::Next(const DataPosition& pos) const {
  DataPosition next{pos.epoch, pos.step_in_epoch + 1};
  if (next.step_in_epoch >= steps_per_epoch_) {
    ++next.epoch;
    next.step_in_epoch = 0;
  }
  return next;
}

DataPosition BatchSampler::PositionOfStep(int64_t global_step) const {
  return DataPosition{global_step / steps_per_epoch_, global_step % steps_per_epoch_};
}

absl::StatusOr<int64_t> TotalTrainingSteps(int64_t max_steps, double epochs, int64_t steps_per_epoch) {
  if (max_steps < 0 || epochs < 0 || !std::isfinite(epochs)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_steps and epochs must not be negative, got ", max_steps, " and ", epochs));
  }
  if (max_steps > 0) return max_steps;
  const double e = epochs > 0 ? epochs : 1.0;
  // The epsilon keeps 0.1 * 30 = 3.0000000000000004 at 3 steps, not 4.
  const double exact = std::ceil(e * static_cast<double>(steps_per_epoch) - 1e-6);
  // Checked before the cast, which is undefined past int64 (a spec is
  // validated, but this is also reached with epochs from other callers).
  if (!(exact <= static_cast<double>(job_spec_limits::kMaxSteps))) {
    return absl::InvalidArgumentError(absl::StrCat(epochs, " epochs of ", steps_per_epoch, " steps is more than ",
                                                   job_spec_limits::kMaxSteps, " steps"));
  }
  const auto steps = static_cast<int64_t>(exact);
  if (steps < 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(epochs, " epochs of ", steps_per_epoch, " steps is no optimizer step at all"));
  }
  return steps;
}

std::vector<std::vector<int64_t>> EvalMicroBatches(int64_t num_sequences, int micro_batch_size, int rank,
                                                   int world_size, int max_batches) {
  std::vector<std::vector<int64_t>> batches;
  if (micro_batch_size < 1 || world_size < 1 || rank < 0 || rank >= world_size || max_batches < 0) return batches;
  if (max_batches > 0) {
    num_sequences = std::min<int64_t>(num_sequences, static_cast<int64_t>(max_batches) * micro_batch_size);
  }
  // Contiguous shards whose sizes differ by at most one.
  const int64_t begin = num_sequences * rank / world_size;
  const int64_t end = num_sequences * (rank + 1) / world_size;
  for (int64_t first = begin; first < end; first += micro_batch_size) {
    std::vector<int64_t>& batch = batches.emplace_back();
    for (int64_t i = first; i < std::min<int64_t>(first + micro_batch_size, end); ++i) batch.push_back(i);
  }
  return batches;
}

}  // namespace tunefleet
