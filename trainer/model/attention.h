#pragma once
// Grouped-query self-attention with RoPE: num_key_value_heads k/v heads, each
// shared by num_attention_heads / num_key_value_heads query heads (query head
// h reads kv head h / group, as HF's repeat_kv). Qwen3 RMS-normalises each
// query and key head before RoPE (q_norm, k_norm over head_dim).

#include <torch/torch.h>

#include <memory>

#include "trainer/model/lora_linear.h"
#include "trainer/model/model_config.h"
#include "trainer/model/rms_norm.h"

namespace tunefleet {

// One layer's keys and values (after RoPE) of the tokens seen so far, for
// incremental decoding: [B, kv_heads, S, head_dim]; undefined before the first
// forward.
struct LayerKvCache {
  torch::Tensor k, v;
};

class Attention : public torch::nn::Module {
 public:
  Attention(const ModelConfig& config, const torch::TensorOptions& options);

  // x [B, T, hidden]; cos, sin [B, T, head_dim]; allowed: bool [B, 1, T, T]
  // or undefined for plain causal (see compat::ScaledDotProductAttention).
  // With `cache`, x holds the tokens after those cached (cos/sin at their
  // positions); they attend to the cache and to each other causally (or as
  // `allowed` [B, 1, T, cached + T] says, for padded batches), and are
  // appended to it.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, LayerKvCache* cache = nullptr);

  std::shared_ptr<LoraLinear> q_proj, k_proj, v_proj, o_proj;
  std::shared_ptr<RMSNorm> q_norm, k_norm;  // null unless config.qk_norm()

 private:
  int64_t num_heads_;
  int64_t num_kv_heads_;
  int64_t head_dim_;
};

// [B, kv_heads, T, D] -> [B, kv_heads * groups, T, D], each kv head repeated
// `groups` times in place (kv0, kv0, kv1, kv1, ...).
torch::Tensor RepeatKv(const torch::Tensor& x, int64_t groups);

}  // namespace tunefleet
