#pragma once
// A base model as a job spec, `evaluate`, `export` and `import` name it: a
// Hugging Face model directory (config.json, safetensors, tokenizer.json) or
// a single GGUF file. Everything that reads a base model goes through here,
// so the two are interchangeable wherever a model path is accepted.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/model/llama_model.h"
#include "trainer/model/model_config.h"
#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {

absl::StatusOr<ModelConfig> LoadBaseModelConfig(const std::string& path);

// The model with its weights, in `options`' dtype and device (a GGUF file's
// quantised weights are dequantised to float32 first, then converted).
absl::StatusOr<std::shared_ptr<CausalLM>> LoadBaseModel(const std::string& path,
                                                        const torch::TensorOptions& options = torch::kFloat32);

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadBaseTokenizer(const std::string& path);

// Writes beside an exported model what transformers and PEFT look for:
// tokenizer.json, tokenizer_config.json (with the chat template),
// special_tokens_map.json and generation_config.json: copied from a
// directory where present, made from a GGUF file's metadata.
absl::Status WriteBaseSideFiles(const std::string& path, const std::string& out_dir);

// config.json for an export of the base with weights in `torch_dtype`: a
// directory's own config.json with only torch_dtype changed (fields we do not
// model are kept), or the one a GGUF file's metadata describes.
absl::StatusOr<std::string> ExportConfigJson(const std::string& path, const std::string& torch_dtype);

}  // namespace tunefleet
