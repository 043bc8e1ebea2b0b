#include "trainer/model/mlp.h"

namespace tunefleet {

Mlp::Mlp(const ModelConfig& config, const torch::TensorOptions& options) {
  const int64_t hidden = config.hidden_size, inter = config.intermediate_size;
  gate_proj = register_module("gate_proj", std::make_shared<LoraLinear>(hidden, inter, false, options));
  up_proj = register_module("up_proj", std::make_shared<LoraLinear>(hidden, inter, false, options));
  down_proj = register_module("down_proj", std::make_shared<LoraLinear>(inter, hidden, false, options));
}

torch::Tensor Mlp::forward(const torch::Tensor& x) {
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

}  // namespace tunefleet
