#include "trainer/optim/grad_clip.h"

namespace tunefleet {

double SumOfSquares(const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  const torch::Tensor g = grad.to(torch::kFloat32);
  return g.dot(g).item<double>();
}

torch::Tensor WidenedToFp32(const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  return grad.scalar_type() == torch::kFloat32 ? grad : grad.to(torch::kFloat32);
}

double ClipByGlobalNorm(torch::Tensor& grad, double global_norm, double max_norm) {
  if (max_norm <= 0) return 1.0;
  // The same epsilon as torch.nn.utils.clip_grad_norm_.
  const double factor = max_norm / (global_norm + 1e-6);
  if (factor >= 1.0) return 1.0;
  torch::NoGradGuard no_grad;
  grad.mul_(factor);
  return factor;
}

}  // namespace tunefleet
