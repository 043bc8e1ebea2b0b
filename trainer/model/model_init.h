#pragma once
// Random initialisation as Hugging Face's _init_weights: linear and embedding
// weights ~ N(0, initializer_range), biases 0, norm weights 1, the padding
// row of the embedding 0. Draws come from one CPU generator in parameter
// order, so a seed gives the same weights on every rank, device and dtype.

#include <torch/torch.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "trainer/model/llama_model.h"
#include "trainer/model/model_config.h"

namespace tunefleet {

// Initialises the base weights of `model` in place (adapters untouched).
void InitRandomWeights(CausalLM& model, uint64_t seed);

// CreateModel + InitRandomWeights: for tests and pretraining from scratch.
absl::StatusOr<std::shared_ptr<CausalLM>> CreateRandomModel(
    const ModelConfig& config, uint64_t seed, const torch::TensorOptions& options = torch::kFloat32);

}  // namespace tunefleet
