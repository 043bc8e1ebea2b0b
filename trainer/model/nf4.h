#pragma once
// NormalFloat4 (NF4) block-wise quantisation, as the QLoRA paper (Dettmers et
// al. 2023) and bitsandbytes define it: each block of 64 consecutive values
// (row-major) is scaled by its absolute maximum into [-1, 1] and each value
// becomes the index of the nearest of 16 fixed levels (quantiles of a normal
// distribution, with an exact zero). Two codes share a byte, the first in the
// high nibble (bitsandbytes' order). Torch ops only: runs on any device.

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

namespace tunefleet {

inline constexpr int64_t kNf4BlockSize = 64;

// The 16 NF4 levels, ascending (bitsandbytes' table, as float32).
const std::array<float, 16>& Nf4Levels();

// A quantised tensor: ceil(numel / 64) blocks, the last zero-padded.
struct Nf4Tensor {
  torch::Tensor packed;         // uint8 [blocks * 32]: two 4-bit codes per byte
  torch::Tensor absmax;         // float32 [blocks]: each block's scale
  std::vector<int64_t> shape;   // of the original tensor

  int64_t numel() const;
  // What this tensor holds in memory: packed codes plus the scales.
  int64_t nbytes() const;
};

// Quantises any floating tensor (computed in float32) on its own device.
// Deterministic: the same input gives the same bytes on every run.
Nf4Tensor QuantizeNf4(const torch::Tensor& values);

// The level times the block's scale for each element, in `dtype`, on the
// packed tensor's device, in the original shape.
torch::Tensor DequantizeNf4(const Nf4Tensor& tensor, torch::Dtype dtype = torch::kFloat32);

}  // namespace tunefleet
