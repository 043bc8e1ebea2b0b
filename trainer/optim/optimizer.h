#pragma once
// What one training step needs from "the optimizer", whether it runs on one
// process (LocalAdamW) or is a ZeRO optimizer sharded over ranks
// (trainer/dist/zero_optimizer.h): a hook before each backward, the
// gradients made final (reduced over ranks) with their global norm, the
// update, and sums over ranks for what the step reports.

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"

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
  // Element-wise sums over ranks (the values unchanged on one process).
  virtual absl::StatusOr<std::vector<double>> SumOverRanks(std::vector<double> values) = 0;
  // Bytes of optimizer state this rank holds (master weights, moments).
  virtual int64_t state_bytes() const = 0;
  // The AdamW holding this rank's state and where its range begins in the
  // flat buffer: checkpoints save it and restore it on resume.
  virtual AdamW& adamw_state() = 0;
  virtual int64_t state_begin() const = 0;
};

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
  absl::StatusOr<std::vector<double>> SumOverRanks(std::vector<double> values) override { return values; }
  int64_t state_bytes() const override { return adamw().state_bytes(); }

  const AdamW& adamw() const { return external_ != nullptr ? *external_ : adamw_; }
  AdamW& adamw_state() override { return external_ != nullptr ? *external_ : adamw_; }
  int64_t state_begin() const override { return 0; }

 private:
  FlatParameters& params_;
  AdamW adamw_{torch::zeros({0}), 0, 0, AdamWOptions{}};
  AdamW* external_ = nullptr;
};

}  // namespace tunefleet
