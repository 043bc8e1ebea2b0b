#include "trainer/model/nf4_linear.h"

#include <cstdint>
#include <vector>

namespace tunefleet {
namespace {

// Saves the packed weight and its scales (tensors, so autograd tracks their
// versions) plus the shape and dtype to rebuild the weight in backward.
class Nf4LinearFunction : public torch::autograd::Function<Nf4LinearFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& packed, const torch::Tensor& absmax,
                               const std::vector<int64_t>& shape, torch::Dtype dtype) {
    ctx->save_for_backward({packed, absmax});
    ctx->saved_data["shape"] = c10::IValue(shape);
    ctx->saved_data["dtype"] = c10::IValue(static_cast<int64_t>(dtype));
    const torch::Tensor w = DequantizeNf4(Nf4Tensor{packed, absmax, shape}, dtype);
    return torch::matmul(x, w.t());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const std::vector<int64_t> shape = ctx->saved_data["shape"].toIntVector();
    const auto dtype = static_cast<torch::Dtype>(ctx->saved_data["dtype"].toInt());
    const torch::Tensor w = DequantizeNf4(Nf4Tensor{saved[0], saved[1], shape}, dtype);
    // One entry per forward argument: only x has a gradient.
    return {torch::matmul(grad_outputs[0], w), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor Nf4Linear(const torch::Tensor& x, const Nf4Tensor& weight, torch::Dtype compute_dtype) {
  return Nf4LinearFunction::apply(x, weight.packed, weight.absmax, weight.shape, compute_dtype);
}

}  // namespace tunefleet
