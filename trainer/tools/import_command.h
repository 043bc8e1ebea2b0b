#pragma once
// `tunefleet-trainer import`: a base model (a GGUF file, or a Hugging Face
// directory) written out as a Hugging Face model directory that transformers
// loads: config.json, model.safetensors, tokenizer.json,
// tokenizer_config.json (with the chat template), special_tokens_map.json,
// generation_config.json.

#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"

namespace tunefleet {

struct ImportOptions {
  std::string model;  // a GGUF file or a HF directory
  std::string out;
  std::string dtype = "float32";  // float32, bfloat16 or float16
};

void AddImportOptions(CLI::App& command, ImportOptions& options);
absl::Status RunImport(const ImportOptions& options);

}  // namespace tunefleet
