#include "trainer/model/nf4.h"

namespace tunefleet {
namespace {

torch::Tensor LevelsOn(const torch::Device& device) {
  const auto& levels = Nf4Levels();
  return torch::tensor(std::vector<float>(levels.begin(), levels.end()), torch::kFloat32).to(device);
}

// Boundaries halfway between consecutive levels: a value takes the code of
// the first boundary it does not exceed (ties go to the lower level).
torch::Tensor MidpointsOn(const torch::Device& device) {
  const auto& levels = Nf4Levels();
  std::vector<float> mid(15);
  for (size_t i = 0; i < mid.size(); ++i) mid[i] = (levels[i] + levels[i + 1]) / 2.0f;
  return torch::tensor(mid, torch::kFloat32).to(device);
}

}  // namespace

const std::array<float, 16>& Nf4Levels() {
  static const std::array<float, 16> kLevels = {
      -1.0f,
      -0.6961928009986877f,
      -0.5250730514526367f,
      -0.39491748809814453f,
      -0.28444138169288635f,
      -0.18477343022823334f,
      -0.09105003625154495f,
      0.0f,
      0.07958029955625534f,
      0.16093020141124725f,
      0.24611230194568634f,
      0.33791524171829224f,
      0.44070982933044434f,
      0.5626170039176941f,
      0.7229568362236023f,
      1.0f,
  };
  return kLevels;
}

int64_t Nf4Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t Nf4Tensor::nbytes() const {
  return static_cast<int64_t>(packed.nbytes() + absmax.nbytes());
}

Nf4Tensor QuantizeNf4(const torch::Tensor& values) {
  torch::NoGradGuard no_grad;
  Nf4Tensor out;
  out.shape = values.sizes().vec();
  const int64_t n = values.numel();
  const int64_t blocks = (n + kNf4BlockSize - 1) / kNf4BlockSize;
  torch::Tensor flat = values.detach().reshape({-1}).to(torch::kFloat32);
  if (blocks * kNf4BlockSize != n) flat = torch::constant_pad_nd(flat, {0, blocks * kNf4BlockSize - n}, 0.0);
  torch::Tensor block_values = flat.view({blocks, kNf4BlockSize});
  out.absmax = block_values.abs().amax(1).contiguous();
  // An all-zero block keeps scale 0 (it dequantises to zeros); divide by 1.
  torch::Tensor divisor = torch::where(out.absmax > 0, out.absmax, torch::ones_like(out.absmax));
  torch::Tensor scaled = block_values / divisor.unsqueeze(1);
  torch::Tensor codes = torch::bucketize(scaled, MidpointsOn(values.device()), /*out_int32=*/true)
                            .to(torch::kUInt8)
                            .view({-1, 2});
  out.packed = torch::bitwise_or(torch::bitwise_left_shift(codes.select(1, 0), 4), codes.select(1, 1)).contiguous();
  return out;
}

torch::Tensor DequantizeNf4(const Nf4Tensor& tensor, torch::Dtype dtype) {
  const torch::Tensor& packed = tensor.packed;
  torch::Tensor codes = torch::stack({torch::bitwise_right_shift(packed, 4), torch::bitwise_and(packed, 15)}, 1)
                            .view({-1})
                            .to(torch::kLong);
  torch::Tensor levels = LevelsOn(packed.device()).index_select(0, codes).view({-1, kNf4BlockSize});
  torch::Tensor flat = (levels * tensor.absmax.unsqueeze(1)).view({-1});
  const int64_t n = tensor.numel();
  if (flat.numel() != n) flat = flat.narrow(0, 0, n);
  return flat.view(tensor.shape).to(dtype);
}

}  // namespace tunefleet
