#pragma once
// What one training step needs from "the optimizer", whether it runs on one
// process (LocalAdamW) or is a ZeRO optimizer sharded over ranks
// (trainer/dist/zero_optimizer.h): a hook before each backward, the
// gradients made final (reduced over ranks) with their global norm, the
// update; and its state, saved into and loaded from checkpoints.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/optimizer_state.h"

namespace tunefleet {

class StepOptimizer {
 public:
  virtual ~StepOptimizer() = default;
  // Called before each micro-batch's backward; `last` is the final one of the
  // accumulation (the only one whose gradients cross ranks).
  virtual void BeginBackward(bool last) = 0;
  // After the last backward: the gradients this rank updates from are final.
  // Returns the global gradient norm (over every rank's shard), unclipped.
  virtual absl::StatusOr<double> FinishGradients() = 0;
  // Clips to max_grad_norm (0: none) by `grad_norm` and updates the weights.
  virtual absl::Status Update(double learning_rate, double max_grad_norm, double grad_norm) = 0;
  // Bytes of optimizer state this rank holds (master weights, moments).
  virtual int64_t state_bytes() const = 0;

  // This rank's state for a checkpoint (its tensors, not copies: the saver
  // snapshots them); none on a rank whose state is a replica of rank 0's.
  virtual std::optional<OptimizerShardState> SaveState() const = 0;
  // Restores SaveState()'s record of this rank's range (re-sliced by the
  // loader when the world size changed), weights included.
  virtual absl::Status LoadState(const OptimizerShardState& state) = 0;

  // Log lines about how the optimizer ran, read by people and tests:
  // after the first step (ZeRO: how communication overlapped backward) and
  // after the last (ZeRO: gradient memory). None for one process.
  virtual std::vector<std::string> FirstStepReport() const { return {}; }
  virtual std::vector<std::string> LastStepReport() const { return {}; }
  // Of the last step's gradient communication, the fraction (by elements)
  // launched while backward still had gradients to compute; none for one
  // process (no communication).
  virtual std::optional<double> CommOverlap() const { return std::nullopt; }
};

// SaveState/LoadState for an AdamW over [begin, begin + its size) of `params`.
OptimizerShardState SaveAdamWState(const AdamW& adamw, int64_t begin, const FlatParameters& params);
absl::Status LoadAdamWState(AdamW& adamw, int64_t begin, FlatParameters& params, const OptimizerShardState& state);

// One process: AdamW over the whole flat buffer.
class LocalAdamW : public StepOptimizer {
 public:
  LocalAdamW(FlatParameters& params, AdamWOptions options)
      : params_(params), adamw_(params.values(), 0, params.decay_numel(), options) {}
  // Wraps an AdamW the caller owns (the single-process TrainStep overload).
  LocalAdamW(FlatParameters& params, AdamW& external) : params_(params), external_(&external) {}

  void BeginBackward(bool) override {}
  absl::StatusOr<double> FinishGradients() override;
  absl::Status Update(double learning_rate, double max_grad_norm, double grad_norm) override;
  int64_t state_bytes() const override { return adamw().state_bytes(); }
  std::optional<OptimizerShardState> SaveState() const override { return SaveAdamWState(adamw(), 0, params_); }
  absl::Status LoadState(const OptimizerShardState& state) override {
    return LoadAdamWState(mutable_adamw(), 0, params_, state);
  }

  const AdamW& adamw() const { return external_ != nullptr ? *external_ : adamw_; }

 private:
  AdamW& mutable_adamw() { return external_ != nullptr ? *external_ : adamw_; }

  FlatParameters& params_;
  AdamW adamw_{torch::zeros({0}), 0, 0, AdamWOptions{}};
  AdamW* external_ = nullptr;
};

}  // namespace tunefleet
