#include "trainer/model/decoder_layer.h"

namespace tunefleet {

DecoderLayer::DecoderLayer(const ModelConfig& config, const torch::TensorOptions& options) {
  // Registration order is the order of HF's state dict and of our parameter lists.
  self_attn = register_module("self_attn", std::make_shared<Attention>(config, options));
  mlp = register_module("mlp", std::make_shared<Mlp>(config, options));
  input_layernorm = register_module(
      "input_layernorm", std::make_shared<RMSNorm>(config.hidden_size, config.rms_norm_eps, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm",
                      std::make_shared<RMSNorm>(config.hidden_size, config.rms_norm_eps, options));
}

torch::Tensor DecoderLayer::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                    const torch::Tensor& sin, const torch::Tensor& allowed, LayerKvCache* cache) {
  torch::Tensor h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, allowed, cache);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

}  // namespace tunefleet
