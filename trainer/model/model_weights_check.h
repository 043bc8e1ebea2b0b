#pragma once
// Checks a model's config against the weights actually present, from tensor
// names and shapes only (a safetensors header, a GGUF tensor table), before
// the model is built: a config.json that claims 100,000 layers over a file
// holding 30 must fail at once, naming both numbers, not after allocating
// the 100,000 layers. Torch-free.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "trainer/model/model_config.h"

namespace tunefleet {

// Tensor name (Hugging Face naming) -> shape.
using WeightShapes = std::map<std::string, std::vector<int64_t>>;

// INVALID_ARGUMENT naming `source` when the weights do not match the config:
// the layer count (model.layers.<i>. prefixes, 0..n-1 all present), the
// embedding's [vocab_size, hidden_size], lm_head's when present, and layer
// 0's attention and MLP projections (heads * head_dim, kv heads * head_dim,
// intermediate_size).
absl::Status CheckConfigAgainstWeights(const ModelConfig& config, const WeightShapes& weights,
                                       const std::string& source);

}  // namespace tunefleet
