#pragma once
// Opening a Hugging Face model directory: config.json, then the weights from
// model.safetensors or a sharded index, one tensor at a time.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/model/llama_model.h"

namespace tunefleet {

// Builds the model that `<dir>/config.json` describes with `options`
// (dtype, device) and loads its weights. Errors name the file and tensor.
absl::StatusOr<std::shared_ptr<CausalLM>> LoadHfModel(const std::string& dir,
                                                      const torch::TensorOptions& options = torch::kFloat32);

// Loads `<adapter_dir>/adapter_config.json` and adapter_model.safetensors
// onto `model` (applies LoRA first), as PEFT saves them.
absl::Status LoadPeftAdapter(CausalLM& model, const std::string& adapter_dir);

}  // namespace tunefleet
