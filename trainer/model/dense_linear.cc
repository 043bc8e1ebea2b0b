#include "trainer/model/dense_linear.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>
#include <vector>

namespace tunefleet {
namespace {

// The op is registered by libtorch when it was built with oneDNN (the PyPI
// wheels are); looked up once.
const std::optional<c10::OperatorHandle>& OneDnnLinearOp() {
  static const std::optional<c10::OperatorHandle> op =
      c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
  return op;
}

// a [m, k] times b^T, b [n, k] (either may be a transposed view).
torch::Tensor OneDnnMatmulTransposed(const torch::Tensor& a, const torch::Tensor& b) {
  torch::jit::Stack stack;
  stack.reserve(6);
  stack.emplace_back(a);
  stack.emplace_back(b);
  stack.emplace_back(c10::IValue());  // no bias: added by the caller when present
  stack.emplace_back(std::string("none"));
  stack.emplace_back(c10::List<std::optional<c10::Scalar>>());
  stack.emplace_back(c10::IValue());
  OneDnnLinearOp()->callBoxed(&stack);
  return stack.back().toTensor();
}

// a [m, k] times b^T, b [n, k], by the backend UsesOneDnn picks.
torch::Tensor MatmulTransposed(const torch::Tensor& a, const torch::Tensor& b) {
  if (UsesOneDnn(a, a.size(0), a.size(1), b.size(0))) return OneDnnMatmulTransposed(a, b);
  return torch::mm(a, b.t());
}

// [tokens, n] viewed with the leading dimensions of `like` ([..., any]).
torch::Tensor WithLeadingDimsOf(const torch::Tensor& rows, const torch::Tensor& like) {
  std::vector<int64_t> shape = like.sizes().vec();
  shape.back() = rows.size(1);
  return rows.view(shape);
}

class DenseLinearFunction : public torch::autograd::Function<DenseLinearFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight) {
    const torch::Tensor x2 = x.reshape({-1, x.size(-1)});
    ctx->save_for_backward({x2, weight});
    return WithLeadingDimsOf(MatmulTransposed(x2, weight), x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x2 = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor dy = grad_outputs[0].reshape({-1, weight.size(0)});
    torch::Tensor dx, dw;
    if (ctx->needs_input_grad(0)) {
      // dX = dY W: W^T is a view, so no copy of the weight.
      dx = WithLeadingDimsOf(MatmulTransposed(dy, weight.t()), grad_outputs[0]);
    }
    // dW = dY^T X on MKL: oneDNN is slower for it with a transposed left operand.
    if (ctx->needs_input_grad(1)) dw = torch::mm(dy.t(), x2);
    return {dx, dw};
  }
};

// y = x W^T + s (x A^T) B^T, the adapter's product accumulated into the
// base's by the GEMM (addmm's alpha and beta) instead of a scale and a sum
// over the [tokens, out] output, and likewise in backward: each of those
// elementwise passes costs as much memory traffic as a small GEMM.
class LoraDenseLinearFunction : public torch::autograd::Function<LoraDenseLinearFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& lora_a, const torch::Tensor& lora_b,
                               double scaling) {
    const torch::Tensor x2 = x.reshape({-1, x.size(-1)});
    const torch::Tensor t = torch::mm(x2, lora_a.t());  // [tokens, rank]
    ctx->save_for_backward({x2, weight, lora_a, lora_b, t});
    ctx->saved_data["scaling"] = scaling;
    torch::Tensor y = MatmulTransposed(x2, weight);
    y.addmm_(t, lora_b.t(), /*beta=*/1, /*alpha=*/scaling);
    return WithLeadingDimsOf(y, x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x2 = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& lora_a = saved[2];
    const torch::Tensor& lora_b = saved[3];
    const torch::Tensor& t = saved[4];
    const double scaling = ctx->saved_data["scaling"].toDouble();
    const torch::Tensor dy = grad_outputs[0].reshape({-1, weight.size(0)});
    const torch::Tensor u = torch::mm(dy, lora_b);  // [tokens, rank]
    torch::Tensor dx, dw, da, db;
    if (ctx->needs_input_grad(0)) {
      dx = MatmulTransposed(dy, weight.t());
      dx.addmm_(u, lora_a, /*beta=*/1, /*alpha=*/scaling);
      dx = WithLeadingDimsOf(dx, grad_outputs[0]);
    }
    if (ctx->needs_input_grad(1)) dw = torch::mm(dy.t(), x2);
    if (ctx->needs_input_grad(2)) da = torch::mm(u.t(), x2).mul_(scaling);
    if (ctx->needs_input_grad(3)) db = torch::mm(dy.t(), t).mul_(scaling);
    return {dx, dw, da, db, torch::Tensor()};
  }
};

bool CpuFp32(const torch::Tensor& x, const torch::Tensor& weight) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32 &&
         OneDnnLinearOp().has_value();
}

}  // namespace

bool UsesOneDnn(const torch::Tensor& a, int64_t m, int64_t k, int64_t n) {
  return CpuFp32(a, a) && m * k * n >= kOneDnnMinMultiplyAdds && (m >= kOneDnnMinRows || n >= kOneDnnWideOutput);
}

torch::Tensor DenseLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!CpuFp32(x, weight)) return torch::nn::functional::linear(x, weight, bias);
  // A custom Function takes no undefined input, so the bias is its own op.
  torch::Tensor y = DenseLinearFunction::apply(x, weight);
  return bias.defined() ? y + bias : y;
}

bool FusesLora(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& lora_a) {
  return CpuFp32(x, weight) && lora_a.scalar_type() == torch::kFloat32;
}

torch::Tensor DenseLinearWithLora(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                  const torch::Tensor& lora_a, const torch::Tensor& lora_b, double scaling) {
  TORCH_CHECK(FusesLora(x, weight, lora_a), "DenseLinearWithLora needs fp32 CPU tensors and oneDNN");
  torch::Tensor y = LoraDenseLinearFunction::apply(x, weight, lora_a, lora_b, scaling);
  return bias.defined() ? y + bias : y;
}

}  // namespace tunefleet
