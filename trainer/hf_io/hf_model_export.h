#pragma once
// Writing a trained model where the rest of the ecosystem reads it:
// a Hugging Face model directory (transformers, vLLM) or a PEFT adapter.

#include <string>

#include "absl/status/status.h"
#include "trainer/model/llama_model.h"
#include "trainer/model/lora.h"

namespace tunefleet {

// config.json, model.safetensors (the model's dtype) and the tokenizer files
// of the base model `base_model_dir` (a directory or a GGUF file: see
// base_model.h's WriteBaseSideFiles). LoRA
// adapters, if any, are not included: merge them first for a merged export.
absl::Status ExportHfModel(const CausalLM& model, const std::string& base_model_dir, const std::string& out_dir);

// adapter_config.json and adapter_model.safetensors with PEFT's names
// (`base_model.model.<hf name>.lora_A.weight`), plus the tokenizer files.
absl::Status ExportPeftAdapter(const CausalLM& model, const LoraConfig& lora, const std::string& base_model_dir,
                               const std::string& out_dir);

}  // namespace tunefleet
