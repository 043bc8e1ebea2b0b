#pragma once
// Moving weights in and out of a CausalLM by Hugging Face name. The model does
// not read files: a source (the safetensors reader, a checkpoint, a test's
// map) lists its names and hands tensors over one at a time, so a sharded
// checkpoint never has to sit in memory whole.

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/model/llama_model.h"

namespace tunefleet {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct WeightSource {
  std::vector<std::string> names;  // every tensor the source holds
  std::function<absl::StatusOr<torch::Tensor>(const std::string& name)> get;
};

// Fills every base parameter from `source`: each must be present, floating
// point and of the exact shape; dtype and device are converted to the
// model's. Tensors the model has no place for are an error, except harmless
// ones (`*.rotary_emb.inv_freq`, `lm_head.weight` of a tied model). Errors
// name the tensor (and the shapes). Adapters are not touched.
absl::Status LoadWeights(CausalLM& model, const WeightSource& source);
absl::Status LoadWeights(CausalLM& model, const std::map<std::string, torch::Tensor>& tensors);

// Fills the LoRA adapters (after ApplyLora) the same way; names may carry
// PEFT's `base_model.model.` prefix.
absl::Status LoadLoraWeights(CausalLM& model, const WeightSource& source);
absl::Status LoadLoraWeights(CausalLM& model, const std::map<std::string, torch::Tensor>& tensors);

// The model's tensors by HF name, in registration order, detached (sharing
// storage with the parameters): the base weights (no `lm_head.weight` when
// tied, as HF saves them) and, apart, the LoRA adapters.
struct ModelStateDict {
  NamedTensors weights;
  NamedTensors lora;
};
ModelStateDict NamedStateDict(const CausalLM& model);

// A WeightSource over an in-memory map.
WeightSource MapWeightSource(const std::map<std::string, torch::Tensor>& tensors);

}  // namespace tunefleet
