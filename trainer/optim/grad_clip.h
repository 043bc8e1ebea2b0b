#pragma once
// Global-norm gradient clipping over a flat gradient (or this rank's shard of
// it: the caller sums squares across ranks before taking the root).

#include <torch/torch.h>

namespace tunefleet {

// Sum of squares of `grad` in fp32, as a double. A bf16 gradient is widened
// a chunk at a time (AdamW::kChunkElements), never whole.
double SumOfSquares(const torch::Tensor& grad);

// The factor that brings a gradient of norm `global_norm` to at most
// `max_norm` (1 when max_norm <= 0 or the norm is within bounds), with
// torch.nn.utils.clip_grad_norm_'s epsilon. AdamW::Step applies it in fp32.
double ClipFactor(double global_norm, double max_norm);

}  // namespace tunefleet
