#pragma once
// The SwiGLU feed-forward block: down(silu(gate(x)) * up(x)).

#include <torch/torch.h>

#include <memory>

#include "trainer/model/lora_linear.h"
#include "trainer/model/model_config.h"

namespace tunefleet {

class Mlp : public torch::nn::Module {
 public:
  Mlp(const ModelConfig& config, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  std::shared_ptr<LoraLinear> gate_proj, up_proj, down_proj;
};

}  // namespace tunefleet
