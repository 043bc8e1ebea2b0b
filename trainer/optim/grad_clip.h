#pragma once
// Global-norm gradient clipping over a flat gradient (or this rank's shard of
// it: the caller sums squares across ranks before taking the root).

#include <torch/torch.h>

namespace tunefleet {

// Sum of squares of `grad` in fp32, as a double.
double SumOfSquares(const torch::Tensor& grad);

// `grad` itself when it is fp32, else an fp32 copy: what clipping and AdamW
// read, so bf16 gradients are scaled in fp32.
torch::Tensor WidenedToFp32(const torch::Tensor& grad);

// Scales `grad` in place so its norm is at most max_norm (no-op when
// max_norm <= 0 or the norm is within bounds). Returns the factor applied.
double ClipByGlobalNorm(torch::Tensor& grad, double global_norm, double max_norm);

}  // namespace tunefleet
