#pragma once
// The LM head and the next-token cross entropy as one autograd node:
// sum over non-ignored rows of cross_entropy(hidden W^T, labels), computed a
// chunk of rows at a time. Each chunk's logits become their own gradient in
// place (softmax minus one-hot) and go straight into dH and dW, so the full
// [tokens, vocab] logits, their log-softmax and their gradient are never
// held (200 MB each for SmolLM2's 49,152-token vocabulary at 1,024 tokens),
// and the elementwise passes over them shrink from about eight to four.
// Liger-Kernel's FusedLinearCrossEntropy is the model. The gradients are
// computed in forward (when autograd wants them) for the incoming gradient
// the caller expects (the step's 1/tokens), rounded as torch's log_softmax
// backward rounds them, and rescaled in backward only when the incoming
// gradient differs, so there is no second pass over the head.

#include <torch/torch.h>

#include <cstdint>

namespace tunefleet {

// Rows per chunk: about 2^24 logits (64 MB fp32) each; depends only on the
// vocabulary size, so results are reproducible run to run.
int64_t LinearCrossEntropyChunkRows(int64_t vocab);

// CausalLM::LossSum fuses only from this many logits (16 MB fp32) up: below
// it the logits are cheap to hold, and small models keep the exact rounding
// of the plain head and loss (the equality tests against transformers/PEFT
// train such models). A shape-only choice, so runs stay reproducible.
inline constexpr int64_t kLinearCrossEntropyMinLogits = int64_t{1} << 22;

// Where LinearCrossEntropySum runs (CPU tensors; on accelerators the plain
// head and loss stay).
bool FusesLinearCrossEntropy(const torch::Tensor& hidden, const torch::Tensor& weight);

// hidden [N, H] (fp32 or bf16), weight [V, H] of hidden's dtype, labels [N]
// int64 (-100 ignored). Returns the fp32 scalar sum of the rows' losses; the
// logits are computed in hidden's dtype and the softmax in fp32, as
// ComputeLoss(Logits(hidden), labels).sum does. `expected_grad`: the
// gradient the caller will backpropagate into the sum (any other is correct,
// with one more rounding).
torch::Tensor LinearCrossEntropySum(const torch::Tensor& hidden, const torch::Tensor& weight,
                                    const torch::Tensor& labels, double expected_grad = 1.0);

}  // namespace tunefleet
