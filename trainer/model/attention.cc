#include "trainer/model/attention.h"

#include <optional>

#include "trainer/model/rotary_embedding.h"

namespace tunefleet {

Attention::Attention(const ModelConfig& config, const torch::TensorOptions& options)
    : num_heads_(config.num_attention_heads),
      num_kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim) {
  const int64_t hidden = config.hidden_size;
  q_proj = register_module(
      "q_proj", std::make_shared<LoraLinear>(hidden, num_heads_ * head_dim_, config.qkv_bias(), options));
  k_proj = register_module(
      "k_proj", std::make_shared<LoraLinear>(hidden, num_kv_heads_ * head_dim_, config.qkv_bias(), options));
  v_proj = register_module(
      "v_proj", std::make_shared<LoraLinear>(hidden, num_kv_heads_ * head_dim_, config.qkv_bias(), options));
  o_proj = register_module(
      "o_proj", std::make_shared<LoraLinear>(num_heads_ * head_dim_, hidden, config.o_bias(), options));
  // After the projections: HF's registration (and state dict) order.
  if (config.qk_norm()) {
    q_norm = register_module(
        "q_norm", std::make_shared<RMSNorm>(head_dim_, config.rms_norm_eps, options, RmsNormKernel::kOpByOp));
    k_norm = register_module(
        "k_norm", std::make_shared<RMSNorm>(head_dim_, config.rms_norm_eps, options, RmsNormKernel::kOpByOp));
  }
}

torch::Tensor RepeatKv(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const int64_t b = x.size(0), kv = x.size(1), t = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, kv, groups, t, d}).reshape({b, kv * groups, t, d});
}

torch::Tensor Attention::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                 const torch::Tensor& allowed, LayerKvCache* cache) {
  const int64_t b = x.size(0), t = x.size(1);
  torch::Tensor q = q_proj->forward(x).view({b, t, num_heads_, head_dim_});
  torch::Tensor k = k_proj->forward(x).view({b, t, num_kv_heads_, head_dim_});
  if (q_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  torch::Tensor v = v_proj->forward(x).view({b, t, num_kv_heads_, head_dim_}).transpose(1, 2);
  q = ApplyRotary(q, cos, sin);
  k = ApplyRotary(k, cos, sin);
  const int64_t groups = num_heads_ / num_kv_heads_;
  if (cache != nullptr) {
    const int64_t past = cache->k.defined() ? cache->k.size(2) : 0;
    if (past > 0) {
      k = torch::cat({cache->k, k}, 2);
      v = torch::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
    if (past > 0) {
      // New token i (at past + i) sees keys 0..past + i; one new token sees all.
      torch::Tensor seen = allowed;  // the caller's [B, 1, t, past + t] mask, if any
      if (!seen.defined() && t > 1) {
        seen = torch::ones({t, past + t}, torch::TensorOptions().dtype(torch::kBool).device(x.device()))
                   .tril(past);
      }
      const std::optional<torch::Tensor> mask = seen.defined() ? std::optional<torch::Tensor>(seen) : std::nullopt;
      torch::Tensor out = at::scaled_dot_product_attention(q, RepeatKv(k, groups), RepeatKv(v, groups), mask,
                                                           /*dropout_p=*/0.0, /*is_causal=*/false);
      return o_proj->forward(out.transpose(1, 2).reshape({b, t, num_heads_ * head_dim_}));
    }
  }
  // SDPA's fused kernels (flash when plainly causal, memory-efficient with a
  // mask). `allowed` is a bool [B, 1, T, T] mask, true where query t may see
  // key s, every row keeping its diagonal; undefined means plain causal.
  torch::Tensor out =
      allowed.defined()
          ? at::scaled_dot_product_attention(q, RepeatKv(k, groups), RepeatKv(v, groups), allowed,
                                             /*dropout_p=*/0.0,
                                             /*is_causal=*/false)
          : at::scaled_dot_product_attention(q, RepeatKv(k, groups), RepeatKv(v, groups), /*attn_mask=*/{},
                                             /*dropout_p=*/0.0, /*is_causal=*/true);  // [B, H, T, D]
  return o_proj->forward(out.transpose(1, 2).reshape({b, t, num_heads_ * head_dim_}));
}

}  // namespace tunefleet
