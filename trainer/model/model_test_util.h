#pragma once
// Helpers shared by the model's tests: tiny configs and random inputs.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <string>

#include "trainer/model/llama_model.h"
#include "trainer/model/model_config.h"
#include "trainer/model/model_init.h"

namespace tunefleet::testing {

// Small enough that a forward is a millisecond on the CPU, with GQA (4 query
// heads over 2 kv heads) and a head_dim that is not hidden / heads.
inline ModelConfig TinyConfig(const std::string& model_type = "llama") {
  ModelConfig c;
  c.model_type = model_type;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.vocab_size = 64;
  c.max_position_embeddings = 128;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  return c;
}

inline std::shared_ptr<CausalLM> TinyModel(const ModelConfig& config, uint64_t seed = 1,
                                           const torch::TensorOptions& options = torch::kFloat32) {
  auto model = CreateRandomModel(config, seed, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

inline torch::Tensor RandomIds(int64_t batch, int64_t length, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(vocab, {batch, length}, torch::kInt64);
}

inline torch::Tensor Positions(int64_t batch, int64_t length) {
  return torch::arange(length, torch::kInt64).unsqueeze(0).expand({batch, length}).contiguous();
}

inline double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace tunefleet::testing
