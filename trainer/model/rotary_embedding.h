#pragma once
// Rotary position embedding in Hugging Face's convention: the two halves of
// each head are rotated together (rotate_half), not interleaved pairs, so
// checkpoints from transformers load without permuting q_proj/k_proj.

#include <torch/torch.h>

#include <utility>

#include "trainer/model/model_config.h"

namespace tunefleet {

// The per-pair inverse frequencies [head_dim / 2], fp32 on the CPU, with
// Llama 3 scaling applied when the config has it (as transformers'
// _compute_llama3_parameters, in fp32, step for step).
torch::Tensor ComputeInvFreq(const ModelConfig& config);

class RotaryEmbedding {
 public:
  explicit RotaryEmbedding(const ModelConfig& config);

  // cos and sin [B, T, head_dim] for position_ids [B, T], computed in fp32 on
  // position_ids' device and cast to `dtype` (as HF casts to the activations').
  std::pair<torch::Tensor, torch::Tensor> CosSin(const torch::Tensor& position_ids, torch::ScalarType dtype);

 private:
  torch::Tensor inv_freq_;         // fp32, CPU: the reference, never cast to bf16
  torch::Tensor inv_freq_device_;  // a copy on the device last asked for
};

// Rotates x [B, H, T, D] by cos, sin [B, T, D].
torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace tunefleet
