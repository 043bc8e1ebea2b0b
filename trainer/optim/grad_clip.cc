#include "trainer/optim/grad_clip.h"

#include <algorithm>
#include <cstdint>

#include "trainer/optim/adamw.h"

namespace tunefleet {

double SumOfSquares(const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  if (grad.scalar_type() == torch::kFloat32) return grad.dot(grad).item<double>();
  torch::Tensor sum = torch::zeros({}, grad.options().dtype(torch::kFloat64));
  for (int64_t begin = 0; begin < grad.numel(); begin += AdamW::kChunkElements) {
    const torch::Tensor g = grad.narrow(0, begin, std::min(AdamW::kChunkElements, grad.numel() - begin))
                                .to(torch::kFloat32);
    sum.add_(g.dot(g));
  }
  return sum.item<double>();  // one host read, after every chunk
}

double ClipFactor(double global_norm, double max_norm) {
  if (max_norm <= 0) return 1.0;
  const double factor = max_norm / (global_norm + 1e-6);
  return factor >= 1.0 ? 1.0 : factor;
}

}  // namespace tunefleet
