#include "trainer/model/linear_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "trainer/model/dense_linear.h"
#include "trainer/model/loss.h"

namespace tunefleet {
namespace {

constexpr int64_t kChunkLogits = int64_t{1} << 24;

class LinearCrossEntropyFunction : public torch::autograd::Function<LinearCrossEntropyFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& labels, bool grad_mode,
                               double expected_grad) {
    const int64_t rows = hidden.size(0), vocab = weight.size(0);
    // Grad mode is off inside forward: the caller's is passed in.
    const bool want_dh = grad_mode && hidden.requires_grad(), want_dw = grad_mode && weight.requires_grad();
    const torch::Tensor valid = labels.ne(kIgnoreIndex);
    const torch::Tensor targets = labels.masked_fill(valid.logical_not(), 0).unsqueeze(1);
    const torch::Tensor minus_valid = valid.to(torch::kFloat32).mul_(-expected_grad).unsqueeze(1);
    ctx->saved_data["expected_grad"] = expected_grad;
    torch::Tensor loss = torch::zeros({}, hidden.options().dtype(torch::kFloat32));
    torch::Tensor dh = want_dh ? torch::empty_like(hidden) : torch::Tensor();
    torch::Tensor dw;
    const float inf = std::numeric_limits<float>::infinity();
    const int64_t step = LinearCrossEntropyChunkRows(vocab);
    for (int64_t begin = 0; begin < rows; begin += step) {
      const int64_t end = std::min(rows, begin + step);
      const torch::Tensor h = hidden.slice(0, begin, end);
      torch::Tensor z = DenseLinear(h, weight).to(torch::kFloat32);  // [c, V], this chunk's logits
      const torch::Tensor lse = z.logsumexp(1, /*keepdim=*/true);
      const torch::Tensor chunk_valid = valid.slice(0, begin, end).unsqueeze(1);
      const torch::Tensor chunk_targets = targets.slice(0, begin, end);
      loss.add_((lse - z.gather(1, chunk_targets)).masked_fill_(chunk_valid.logical_not(), 0).sum());
      if (!want_dh && !want_dw) continue;
      // g (softmax - one-hot), in place, rounded as log_softmax's backward
      // rounds it; an ignored row's lse is +inf, so its softmax is 0 and it
      // adds nothing to either gradient.
      z.sub_(lse.masked_fill(chunk_valid.logical_not(), inf)).exp_().mul_(expected_grad);
      z.scatter_add_(1, chunk_targets, minus_valid.slice(0, begin, end));
      const torch::Tensor dz = z.to(hidden.scalar_type());
      // dH = dZ W through DenseLinear's backend choice (W^T is a view).
      if (want_dh) dh.slice(0, begin, end).copy_(DenseLinear(dz, weight.t()));
      if (want_dw) {
        if (!dw.defined()) {
          dw = torch::mm(dz.t(), h);
        } else {
          dw.addmm_(dz.t(), h);
        }
      }
    }
    if (want_dw && !dw.defined()) dw = torch::zeros_like(weight);  // no rows at all
    ctx->save_for_backward({dh, dw});
    return loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    // The loss is a scalar; its gradient is a CPU scalar, so reading it costs no device sync.
    const double g = grad_outputs[0].item<double>();
    const double expected = ctx->saved_data["expected_grad"].toDouble();
    torch::Tensor dh = ctx->needs_input_grad(0) ? saved[0] : torch::Tensor();
    torch::Tensor dw = ctx->needs_input_grad(1) ? saved[1] : torch::Tensor();
    // The gradients were computed for `expected`; any other incoming gradient rescales them.
    if (g != expected) {
      if (dh.defined()) dh = dh * (g / expected);
      if (dw.defined()) dw = dw * (g / expected);
    }
    return {dh, dw, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

int64_t LinearCrossEntropyChunkRows(int64_t vocab) { return std::max<int64_t>(1, kChunkLogits / std::max<int64_t>(1, vocab)); }

bool FusesLinearCrossEntropy(const torch::Tensor& hidden, const torch::Tensor& weight) {
  return hidden.device().is_cpu() && weight.device().is_cpu() && hidden.scalar_type() == weight.scalar_type() &&
         (hidden.scalar_type() == torch::kFloat32 || hidden.scalar_type() == torch::kBFloat16);
}

torch::Tensor LinearCrossEntropySum(const torch::Tensor& hidden, const torch::Tensor& weight,
                                    const torch::Tensor& labels, double expected_grad) {
  TORCH_CHECK(expected_grad != 0 && std::isfinite(expected_grad), "expected_grad must be finite and nonzero");
  TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
              "hidden must be [N, H] and weight [V, H], got ", hidden.sizes(), " and ", weight.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == hidden.size(0) && labels.scalar_type() == torch::kInt64,
              "labels must be int64 [N], got ", labels.sizes());
  TORCH_CHECK(FusesLinearCrossEntropy(hidden, weight), "LinearCrossEntropySum needs CPU fp32 or bf16 tensors");
  return LinearCrossEntropyFunction::apply(hidden.contiguous(), weight, labels.to(hidden.device()),
                                           torch::GradMode::is_enabled(), expected_grad);
}

}  // namespace tunefleet
