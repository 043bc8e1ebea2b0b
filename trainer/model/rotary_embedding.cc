#include "trainer/model/rotary_embedding.h"

#include <ATen/Parallel.h>

#include <algorithm>
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

// y = x cos + rotate_half(x) sin over x [B, H, T, D] in any layout whose last
// dimension is contiguous (q and k arrive as [B, T, H, D] transposed): one
// pass that reads x and writes y, where the op-by-op form writes five
// tensors. The products and the sum are the same operations in the same
// order, so y equals the op-by-op result bit for bit. Backward is the
// rotation the other way: dx[j] = dy[j] cos[j] + (j < D/2 ? dy[j+D/2]
// sin[j+D/2] : -dy[j-D/2] sin[j-D/2]).
template <bool kInverse>
void Rotate(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, torch::Tensor& out) {
  const int64_t b = x.size(0), heads = x.size(1), t = x.size(2), d = x.size(3), half = d / 2;
  const float* xp = x.data_ptr<float>();
  const float* cp = cos.data_ptr<float>();
  const float* sp = sin.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2);
  const int64_t os0 = out.stride(0), os1 = out.stride(1), os2 = out.stride(2);
  at::parallel_for(0, b * heads * t, std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(d, 1)),
                   [&](int64_t begin, int64_t end) {
                     for (int64_t i = begin; i < end; ++i) {
                       const int64_t bi = i / (heads * t), hi = (i / t) % heads, ti = i % t;
                       const float* xr = xp + bi * xs0 + hi * xs1 + ti * xs2;
                       const float* cr = cp + (bi * t + ti) * d;
                       const float* sr = sp + (bi * t + ti) * d;
                       float* yr = op + bi * os0 + hi * os1 + ti * os2;
                       if (!kInverse) {
                         for (int64_t j = 0; j < half; ++j) yr[j] = xr[j] * cr[j] + (-xr[j + half]) * sr[j];
                         for (int64_t j = half; j < d; ++j) yr[j] = xr[j] * cr[j] + xr[j - half] * sr[j];
                       } else {
                         for (int64_t j = 0; j < half; ++j) yr[j] = xr[j] * cr[j] + xr[j + half] * sr[j + half];
                         for (int64_t j = half; j < d; ++j) yr[j] = xr[j] * cr[j] - xr[j - half] * sr[j - half];
                       }
                     }
                   });
}

class FusedRotaryFunction : public torch::autograd::Function<FusedRotaryFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin) {
    torch::Tensor y = torch::empty(x.sizes(), x.options());
    Rotate</*kInverse=*/false>(x, cos, sin, y);
    ctx->save_for_backward({cos, sin});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    torch::Tensor dy = grads[0];
    if (dy.stride(-1) != 1) dy = dy.contiguous();
    torch::Tensor dx = torch::empty(dy.sizes(), dy.options());
    Rotate</*kInverse=*/true>(dy, saved[0], saved[1], dx);
    return {dx, torch::Tensor(), torch::Tensor()};
  }
};

bool FusesRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const auto fp32_cpu = [](const torch::Tensor& a) {
    return a.device().is_cpu() && a.scalar_type() == torch::kFloat32;
  };
  return fp32_cpu(x) && fp32_cpu(cos) && fp32_cpu(sin) && x.dim() == 4 && x.size(3) % 2 == 0 &&
         x.stride(3) == 1 && cos.is_contiguous() && sin.is_contiguous() && cos.dim() == 3 &&
         cos.sizes() == sin.sizes() && cos.size(0) == x.size(0) && cos.size(1) == x.size(2) &&
         cos.size(2) == x.size(3) && !cos.requires_grad() && !sin.requires_grad();
}

}  // namespace

torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  if (FusesRotary(x, cos, sin)) return FusedRotaryFunction::apply(x, cos, sin);
  // Broadcast over heads.
  return x * cos.unsqueeze(1) + RotateHalf(x) * sin.unsqueeze(1);
}

}  // namespace tunefleet
