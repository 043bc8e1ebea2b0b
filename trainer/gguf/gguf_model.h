#pragma once
// A GGUF file as a base model: the ModelConfig its metadata describes and a
// WeightSource that hands out its tensors under Hugging Face names,
// dequantised to float32 exactly as transformers' GGUF loader does (including
// undoing llama.cpp's rotary permutation of the llama q/k projections).

#include "absl/status/statusor.h"
#include "trainer/gguf/gguf_file.h"
#include "trainer/model/model_config.h"
#include "trainer/model/weight_loading.h"

namespace tunefleet {

// Errors name the file and the metadata key (an unsupported architecture,
// RoPE scaling or partial rotary dimension included).
absl::StatusOr<ModelConfig> GgufModelConfig(const GgufFile& file);

// The file's tensors by HF name (`file` must outlive the source). A tensor
// with no HF counterpart keeps its GGUF name, so LoadWeights rejects it by name.
WeightSource GgufWeightSource(const GgufFile& file, const ModelConfig& config);

}  // namespace tunefleet
