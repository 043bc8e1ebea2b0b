#pragma once
// The LM head and the next-token cross entropy as one autograd node:
// sum over non-ignored rows of cross_entropy(hidden W^T, labels), computed a
// chunk of rows at a time. Each chunk's logits become their own gradient in
// place (softmax minus one-hot) and go straight into dH and dW, so the full
// [tokens, vocab] logits, their log-softmax and their gradient are never
// held (200 MB each for SmolLM2's 49,152-token vocabulary at 1,024 tokens),
// and the elementwise passes over them shrink from about eight to four.
// Liger-Kernel's FusedLinearCrossEntropy is the model. The gradients are
// computed in forward (when autograd wants them) and scaled by the incoming
// gradient in backward, so there is no second pass over the head.

#include <torch/torch.h>

#include <cstdint>

namespace tunefleet {

// Rows per chunk: about 2^24 logits (64 MB fp32) each; depends only on the
// vocabulary size, so results are reproducible run to run.
int64_t LinearCrossEntropyChunkRows(int64_t vocab);

// Where LinearCrossEntropySum runs (CPU tensors; on accelerators the plain
// head and loss stay).
bool FusesLinearCrossEntropy(const torch::Tensor& hidden, const torch::Tensor& weight);

// hidden [N, H] (fp32 or bf16), weight [V, H] of hidden's dtype, labels [N]
// int64 (-100 ignored). Returns the fp32 scalar sum of the rows' losses; the
// logits are computed in hidden's dtype and the softmax in fp32, as
// ComputeLoss(Logits(hidden), labels).sum does.
torch::Tensor LinearCrossEntropySum(const torch::Tensor& hidden, const torch::Tensor& weight,
                                    const torch::Tensor& labels);

}  // namespace tunefleet
