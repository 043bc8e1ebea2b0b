#pragma once
// AdamW with ZeRO data parallelism over a flat parameter buffer padded to a
// multiple of the world size N and cut into N contiguous shards.
//
//   stage 0  buckets all-reduced during backward; every rank updates all.
//   stage 1  buckets all-reduced; each rank's AdamW (master weights and
//            moments) covers its shard only; updated shards all-gathered.
//   stage 2  buckets reduced to the rank(s) owning their elements, so each
//            rank ends with the summed gradient of its shard only (a
//            reduce-scatter); update and all-gather as stage 1.
//
// Gradients cross ranks only on the last micro-batch of an accumulation
// (BeginBackward(last)). The loss is already divided by the global token
// count, so a sum over ranks is the global mean's gradient.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/dist/collectives.h"
#include "trainer/dist/grad_buckets.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/optimizer.h"

namespace tunefleet {

struct ZeroOptions {
  int stage = 1;
  int64_t bucket_bytes = 25 << 20;
  AdamWOptions adamw;
};

class ZeroOptimizer : public StepOptimizer {
 public:
  // `params`: the trainable parameters by name (as given to FlatParameters,
  // whose buffer must be padded to a multiple of the world size).
  static absl::StatusOr<std::unique_ptr<ZeroOptimizer>> Create(
      Collectives& collectives, FlatParameters& flat,
      const std::vector<std::pair<std::string, torch::Tensor>>& params, const ZeroOptions& options);

  void BeginBackward(bool last) override;
  absl::StatusOr<double> FinishGradients() override;
  absl::Status Update(double learning_rate, double max_grad_norm, double grad_norm) override;
  absl::StatusOr<std::vector<double>> SumOverRanks(std::vector<double> values) override;
  int64_t state_bytes() const override { return adamw_->state_bytes(); }
  AdamW& adamw_state() override { return *adamw_; }
  // Stage 0 keeps the whole range on every rank.
  int64_t state_begin() const override { return options_.stage == 0 ? 0 : shard_begin_; }

  int stage() const { return options_.stage; }
  int64_t shard_begin() const { return shard_begin_; }
  int64_t shard_numel() const { return shard_numel_; }
  const AdamW& adamw() const { return *adamw_; }
  const GradBuckets& buckets() const { return *buckets_; }

 private:
  ZeroOptimizer(Collectives& collectives, FlatParameters& flat, const ZeroOptions& options)
      : collectives_(collectives), flat_(flat), options_(options) {}
  void Launch(int index, const GradBucket& bucket);
  torch::Tensor OwnedGrads();

  Collectives& collectives_;
  FlatParameters& flat_;
  ZeroOptions options_;
  int64_t shard_begin_ = 0;
  int64_t shard_numel_ = 0;
  std::unique_ptr<AdamW> adamw_;
  std::unique_ptr<GradBuckets> buckets_;
  std::vector<std::unique_ptr<CollectiveWork>> in_flight_;
  absl::Status launch_error_;
  bool reduce_scatter_whole_ = false;  // stage 2 with one bucket spanning the buffer
};

}  // namespace tunefleet
