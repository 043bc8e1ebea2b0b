#include "trainer/model/rotary_embedding.h"

#include <cmath>

namespace tunefleet {

torch::Tensor ComputeInvFreq(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  // HF: 1 / base ** (arange(0, dim, 2).float() / dim), in fp32.
  torch::Tensor exponents =
      torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(dim);
  torch::Tensor inv_freq = 1.0 / torch::pow(config.rope_theta, exponents);
  if (!config.rope_scaling) return inv_freq;

  // Llama 3: long wavelengths are slowed by `factor`, short ones kept, and
  // the band between interpolated smoothly.
  const RopeScaling& s = *config.rope_scaling;
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  torch::Tensor wavelen = 2 * M_PI / inv_freq;
  torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  torch::Tensor smooth =
      (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  torch::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  torch::Tensor medium =
      (wavelen < high_freq_wavelen).logical_not().logical_and((wavelen > low_freq_wavelen).logical_not());
  return torch::where(medium, smoothed, scaled);
}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config) : inv_freq_(ComputeInvFreq(config)) {}

std::pair<torch::Tensor, torch::Tensor> RotaryEmbedding::CosSin(const torch::Tensor& position_ids,
                                                                torch::ScalarType dtype) {
  if (!inv_freq_device_.defined() || inv_freq_device_.device() != position_ids.device()) {
    inv_freq_device_ = inv_freq_.to(position_ids.device());
  }
  // Each angle is one fp32 product, as HF's outer-product matmul computes it.
  torch::Tensor freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq_device_;  // [B, T, D/2]
  torch::Tensor emb = torch::cat({freqs, freqs}, /*dim=*/-1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

namespace {
torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, /*dim=*/-1);
}
}  // namespace

torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  // Broadcast over heads.
  return x * cos.unsqueeze(1) + RotateHalf(x) * sin.unsqueeze(1);
}

}  // namespace tunefleet
