#pragma once
// AdamW with ZeRO data parallelism over a flat parameter buffer padded to a
// multiple of the world size N and cut into N contiguous shards; rank r owns
// shard r: fp32 master weights and both moments for its S = padded/N
// elements only (stages 1-2).
//
//   stage 0  buckets all-reduced during backward; every rank updates all.
//   stage 1  each bucket reduce-scattered during backward, in place in the
//            full flat gradient buffer (each rank needs only its shard's
//            sum); AdamW over the shard; updated shards all-gathered.
//   stage 2  as stage 1, but no full gradient buffer: when a bucket is ready
//            its parameters' gradients are copied into a bucket-sized
//            staging buffer and freed, the staging buffer is
//            reduce-scattered, and this rank's piece lands in a shard-sized
//            gradient buffer; the staging buffer is freed once its
//            reduction is done (at most kStagingWindow buckets at a time).
//
// Gradients cross ranks only on the last micro-batch of an accumulation
// (BeginBackward(last)); earlier ones accumulate locally into the
// parameters' gradients (at stage 2 those exist only during the step). The
// loss is already divided by the global token count, so a sum over ranks is
// the global mean's gradient.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
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
  int64_t state_bytes() const override { return adamw_->state_bytes(); }
  // Stage 0 keeps the whole range on every rank: rank 0's copy is saved.
  std::optional<OptimizerShardState> SaveState() const override;
  absl::Status LoadState(const OptimizerShardState& state) override;
  std::vector<std::string> FirstStepReport() const override;
  std::vector<std::string> LastStepReport() const override;
  std::optional<double> CommOverlap() const override;

  int stage() const { return options_.stage; }
  int64_t shard_begin() const { return shard_begin_; }
  int64_t shard_numel() const { return shard_numel_; }
  const AdamW& adamw() const { return *adamw_; }
  const GradBuckets& buckets() const { return *buckets_; }
  // Gradient memory this rank holds now, from the tensors themselves: the
  // flat buffer (stages 0-1) or the shard buffer (stage 2), plus any
  // parameter gradient or staging buffer still alive.
  int64_t gradient_bytes() const;
  // The most staging memory (stage 2) held at once so far.
  int64_t peak_staging_bytes() const { return peak_staging_bytes_; }
  // The most gradient memory (gradient_bytes(), plus the update's fp32
  // chunk when they are bf16) held at once so far, sampled at each bucket
  // launch and at the update.
  int64_t peak_gradient_bytes() const { return peak_gradient_bytes_; }
  // Model state this rank holds at its peak, from the tensors: the weights
  // (the flat buffer), the optimizer state (fp32 master where the weights
  // are not fp32, both moments) and peak_gradient_bytes(). The ZeRO paper's
  // 16, 4 + 12/N and 2 + 14/N bytes per parameter count the same things,
  // less the staging and the update's chunk.
  int64_t peak_model_state_bytes() const;

  // Stage 2 buckets whose reduction may be in flight at once: two, as
  // DeepSpeed's double buffer, so one reduces while the next fills.
  static constexpr int kStagingWindow = 2;

 private:
  struct InFlight {
    GradBucket bucket;
    torch::Tensor staging;  // stage 2: the bucket's gradients, reduced in place
    std::unique_ptr<CollectiveWork> work;
  };

  ZeroOptimizer(Collectives& collectives, FlatParameters& flat, const ZeroOptions& options)
      : collectives_(collectives), flat_(flat), options_(options) {}
  void Launch(int index, const GradBucket& bucket);
  torch::Tensor GatherBucketGrads(const GradBucket& bucket);
  void CompleteOldest();
  void ReleaseParamGrads();
  std::vector<int64_t> PieceSizes(const GradBucket& bucket) const;
  torch::Tensor OwnedGrads();
  void SampleGradientBytes(int64_t extra = 0);
  // Where the AdamW's range begins in the flat buffer.
  int64_t state_begin() const { return options_.stage == 0 ? 0 : shard_begin_; }

  Collectives& collectives_;
  FlatParameters& flat_;
  ZeroOptions options_;
  int64_t shard_begin_ = 0;
  int64_t shard_numel_ = 0;
  std::vector<torch::Tensor> params_;  // in the flat buffer's slot order
  std::unique_ptr<AdamW> adamw_;
  std::unique_ptr<GradBuckets> buckets_;
  torch::Tensor shard_grads_;  // stage 2: this shard's summed gradient
  std::deque<InFlight> in_flight_;
  int64_t staging_bytes_ = 0;
  int64_t peak_staging_bytes_ = 0;
  int64_t peak_gradient_bytes_ = 0;
  absl::Status launch_error_;
};

}  // namespace tunefleet
