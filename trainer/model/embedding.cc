#include "trainer/model/embedding.h"

namespace tunefleet {

Embedding::Embedding(int64_t vocab_size, int64_t hidden_size, const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({vocab_size, hidden_size}, options));
}

torch::Tensor Embedding::forward(const torch::Tensor& input_ids) {
  return torch::embedding(weight, input_ids);
}

}  // namespace tunefleet
