#include "trainer/model/rms_norm.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace tunefleet {
namespace {

// Rows per block of the weight gradient's partial sums: a fixed size, so the
// order of the additions (and the result, bit for bit) does not depend on the
// number of threads.
constexpr int64_t kWeightGradRowsPerBlock = 64;
// Enough work per task that OpenMP's fork costs little beside it.
constexpr int64_t kGrainElements = 1 << 15;

int64_t GrainRows(int64_t n) { return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(n, 1)); }

// The sum of term(i) over i < n in eight partial sums: GCC vectorises the
// loop (the additions' order is fixed by the code, not by the compiler), and
// the result is the same on every run.
template <typename Term>
float EightWaySum(int64_t n, Term term) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += term(i + k);
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += term(i);
  return s;
}

// Hugging Face's ops on fp32: y = w * (x * rsqrt(mean(x^2) + eps)), one pass
// to read x and one to write y, instead of seven tensors written and read in
// forward and as many again in backward by the op-by-op form (on CPU the
// norms are memory-bound; docs/performance.md). Backward, with r = rsqrt(.)
// and xh = x r:  dx = r (w dy - xh mean(w dy xh)),  dw = sum over rows dy xh.
class FusedRmsNormFunction : public torch::autograd::Function<FusedRmsNormFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight_in, double eps) {
    const torch::Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
    const int64_t n = x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
    torch::Tensor y = torch::empty_like(x);
    torch::Tensor rstd = torch::empty({rows}, x.options());
    const float* xp = x.data_ptr<float>();
    const float* wp = weight.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* rp = rstd.data_ptr<float>();
    const float feps = static_cast<float>(eps);
    at::parallel_for(0, rows, GrainRows(n), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* xr = xp + r * n;
        float* yr = yp + r * n;
        const float inv =
            1.0f / std::sqrt(EightWaySum(n, [&](int64_t i) { return xr[i] * xr[i]; }) / static_cast<float>(n) + feps);
        rp[r] = inv;
        for (int64_t i = 0; i < n; ++i) yr[i] = wp[i] * (xr[i] * inv);
      }
    });
    ctx->save_for_backward({x, weight, rstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& rstd = saved[2];
    const torch::Tensor dy = grads[0].contiguous();
    const int64_t n = x.size(-1), rows = rstd.numel();
    const bool want_dx = ctx->needs_input_grad(0), want_dw = ctx->needs_input_grad(1);
    const float* xp = x.data_ptr<float>();
    const float* wp = weight.data_ptr<float>();
    const float* rp = rstd.data_ptr<float>();
    const float* gp = dy.data_ptr<float>();
    torch::Tensor dx;
    if (want_dx) {
      dx = torch::empty_like(x);
      float* dp = dx.data_ptr<float>();
      at::parallel_for(0, rows, GrainRows(n), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const float* xr = xp + r * n;
          const float* gr = gp + r * n;
          float* dr = dp + r * n;
          const float inv = rp[r];
          // mean(w dy xh) = inv * mean(w dy x)
          const float c =
              inv * EightWaySum(n, [&](int64_t i) { return gr[i] * wp[i] * xr[i]; }) / static_cast<float>(n);
          for (int64_t i = 0; i < n; ++i) dr[i] = inv * (wp[i] * gr[i] - (xr[i] * inv) * c);
        }
      });
    }
    torch::Tensor dw;
    if (want_dw) {
      // The weight's gradient sums over every token of the micro-batch, in
      // fp64 partial sums rounded once at the end rather than once per block.
      // (Ranks still add their micro-batches' sums in their own order.)
      const int64_t blocks = (rows + kWeightGradRowsPerBlock - 1) / kWeightGradRowsPerBlock;
      std::vector<double> partial(static_cast<size_t>(std::max<int64_t>(blocks, 1) * n), 0.0);
      double* pp = partial.data();
      at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          double* out = pp + b * n;
          const int64_t last = std::min(rows, (b + 1) * kWeightGradRowsPerBlock);
          for (int64_t r = b * kWeightGradRowsPerBlock; r < last; ++r) {
            const float* xr = xp + r * n;
            const float* gr = gp + r * n;
            const float inv = rp[r];
            for (int64_t i = 0; i < n; ++i) out[i] += static_cast<double>(gr[i] * (xr[i] * inv));
          }
        }
      });
      // Blocks in order, column by column: the same sum whatever the threads.
      dw = torch::empty_like(weight);
      float* wout = dw.data_ptr<float>();
      at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          double sum = 0;
          for (int64_t b = 0; b < blocks; ++b) sum += pp[b * n + i];
          wout[i] = static_cast<float>(sum);
        }
      });
    }
    return {dx, dw, torch::Tensor()};
  }
};

bool FusesRmsNorm(const torch::Tensor& x, const torch::Tensor& weight) {
  return x.device().is_cpu() && weight.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
         weight.scalar_type() == torch::kFloat32 && x.dim() >= 1 && x.size(-1) == weight.numel() && x.numel() > 0;
}

}  // namespace

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (FusesRmsNorm(x, weight)) return FusedRmsNormFunction::apply(x, weight, eps);
  return RmsNormOpByOp(x, weight, eps);
}

torch::Tensor RmsNormOpByOp(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  // The mean of squares of bf16 activations loses too much in bf16.
  torch::Tensor h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(/*dim=*/-1, /*keepdim=*/true) + eps);
  return weight * h.to(x.scalar_type());
}

RMSNorm::RMSNorm(int64_t hidden_size, double eps, const torch::TensorOptions& options, RmsNormKernel kernel)
    : eps_(eps), kernel_(kernel) {
  weight = register_parameter("weight", torch::ones({hidden_size}, options));
}

torch::Tensor RMSNorm::forward(const torch::Tensor& x) {
  return kernel_ == RmsNormKernel::kOpByOp ? RmsNormOpByOp(x, weight, eps_) : RmsNorm(x, weight, eps_);
}

}  // namespace tunefleet
