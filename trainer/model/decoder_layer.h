#pragma once
// One pre-norm transformer block:
//   h = x + self_attn(input_layernorm(x));  out = h + mlp(post_attention_layernorm(h)).

#include <torch/torch.h>

#include <memory>

#include "trainer/model/attention.h"
#include "trainer/model/mlp.h"
#include "trainer/model/model_config.h"
#include "trainer/model/rms_norm.h"

namespace tunefleet {

class DecoderLayer : public torch::nn::Module {
 public:
  DecoderLayer(const ModelConfig& config, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, LayerKvCache* cache = nullptr);

  std::shared_ptr<Attention> self_attn;
  std::shared_ptr<Mlp> mlp;
  std::shared_ptr<RMSNorm> input_layernorm, post_attention_layernorm;
};

}  // namespace tunefleet
