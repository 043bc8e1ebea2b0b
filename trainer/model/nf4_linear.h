#pragma once
// y = x W^T for a frozen weight held as NF4 (QLoRA's base projection). The
// weight is dequantised for the matmul in forward and again in backward;
// autograd keeps only the packed weight, never the dequantised one, and no
// gradient is computed for it (it is frozen): only x's gradient flows.

#include <torch/torch.h>

#include "trainer/model/nf4.h"

namespace tunefleet {

// `compute_dtype`: the dtype the weight is dequantised to (that of x).
torch::Tensor Nf4Linear(const torch::Tensor& x, const Nf4Tensor& weight, torch::Dtype compute_dtype);

}  // namespace tunefleet
