#pragma once
// AdamW (decoupled weight decay, as torch.optim.AdamW) over one contiguous
// range of a flat parameter buffer. The optimizer holds fp32 master weights
// and both moments for its range only: with ZeRO that range is this rank's
// shard; on one process it is everything.

#include <cstdint>

#include <torch/torch.h>

namespace tunefleet {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;
};

class AdamW {
 public:
  // `params` is the range [begin, begin + numel) of the flat buffer this
  // optimizer owns; elements before `decay_end` (absolute) get weight decay.
  AdamW(const torch::Tensor& params, int64_t begin, int64_t decay_end, AdamWOptions options);

  // One update of the owned range from its gradient `grad` (same shape as the
  // range, any float dtype) times `grad_scale` (the clipping factor), at
  // learning rate `lr`. Writes the updated weights back into `params` (cast
  // to its dtype). An fp32 gradient is scaled in place (clipped, as
  // clip_grad_norm_ leaves it); a bf16 one is scaled in its fp32 widening
  // and keeps its raw values. The range is updated a chunk at a time, so the fp32
  // widening of bf16 gradients and the update's temporaries take a chunk's
  // memory, not 4-8 bytes per parameter: the optimizer holds no more than
  // its state, as the ZeRO figures count. Chunks are multiples of every
  // vector width, so the result is the same bit for bit as one pass.
  void Step(const torch::Tensor& grad, double lr, double grad_scale = 1.0);
  static constexpr int64_t kChunkElements = int64_t{1} << 18;

  int64_t step_count() const { return step_; }
  // The optimizer's own state, for checkpoints and for measuring memory.
  torch::Tensor& master() { return master_; }
  torch::Tensor& exp_avg() { return exp_avg_; }
  torch::Tensor& exp_avg_sq() { return exp_avg_sq_; }
  const torch::Tensor& master() const { return master_; }
  const torch::Tensor& exp_avg() const { return exp_avg_; }
  const torch::Tensor& exp_avg_sq() const { return exp_avg_sq_; }
  void set_step_count(int64_t step) { step_ = step; }
  int64_t state_bytes() const;

 private:
  torch::Tensor params_;   // view into the flat buffer (model dtype)
  torch::Tensor master_;   // fp32; aliases params_ when the model is fp32
  torch::Tensor exp_avg_;
  torch::Tensor exp_avg_sq_;
  int64_t decay_len_;      // leading elements of the range that get decay
  AdamWOptions options_;
  int64_t step_ = 0;
};

}  // namespace tunefleet
