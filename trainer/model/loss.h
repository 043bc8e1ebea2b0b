#pragma once
// Next-token cross entropy over already-shifted labels (labels[t] is the
// target of position t; -100 is ignored). Returns the sum and the count as
// well as the mean: with gradient accumulation over micro-batches and ranks,
// the exact loss is the total sum over the total count, not a mean of means.

#include <torch/torch.h>

#include <cstdint>

namespace tunefleet {

inline constexpr int64_t kIgnoreIndex = -100;

struct LossOutput {
  torch::Tensor sum;    // fp32 scalar: summed over the non-ignored tokens
  torch::Tensor count;  // int64 scalar: the non-ignored tokens (a tensor: no device sync)
  torch::Tensor mean;   // fp32 scalar: sum / max(count, 1)
};

// logits [B, T, V] (any float dtype, computed in fp32), labels [B, T] int64.
LossOutput ComputeLoss(const torch::Tensor& logits, const torch::Tensor& labels);

// Each row's summed token loss, fp32 [B]: multi-task batches weigh and
// report each row by its task (every packed row belongs to one task).
torch::Tensor RowLossSums(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace tunefleet
