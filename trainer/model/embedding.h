#pragma once
// The token embedding table, `weight` [vocab, hidden] as HF names it. Our own
// module rather than torch::nn::Embedding, which would first allocate and
// initialise the whole table in fp32 on the CPU.

#include <torch/torch.h>

#include <cstdint>

namespace tunefleet {

class Embedding : public torch::nn::Module {
 public:
  Embedding(int64_t vocab_size, int64_t hidden_size, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& input_ids);  // [B, T] int64 -> [B, T, hidden]

  torch::Tensor weight;
};

}  // namespace tunefleet
