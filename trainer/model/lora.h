#pragma once
// LoRA over a CausalLM, as PEFT does it: an adapter on each projection named
// in target_modules, every other parameter frozen. The adapters are
// `<module>.lora_A.weight` / `<module>.lora_B.weight` under the module's HF
// name; the exporter adds PEFT's `base_model.model.` prefix.

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "trainer/model/llama_model.h"

namespace tunefleet {

struct LoraConfig {
  int64_t rank = 8;
  double alpha = 16.0;   // scaling = alpha / rank
  double dropout = 0.0;  // on the input of the A path, in training mode only
  // Last components of projection names: q_proj k_proj v_proj o_proj
  // gate_proj up_proj down_proj (and lm_head, untied). Default: all seven.
  std::vector<std::string> target_modules = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                             "gate_proj", "up_proj", "down_proj"};
  uint64_t seed = 0;  // for A's init: the same on every rank
};

// Adds the adapters and freezes every base parameter. Errors: a bad rank, a
// target that names no projection, adapters already present.
absl::Status ApplyLora(CausalLM& model, const LoraConfig& config);

// Folds every adapter into its base weight and removes the adapters (base
// parameters stay frozen); an NF4 base is dequantised. The logits are
// unchanged up to rounding.
void MergeLora(CausalLM& model);

bool HasLora(const CausalLM& model);

// The parameters with requires_grad, by HF name, in registration order (the
// same on every rank): the order in which the optimizer flattens them.
std::vector<std::pair<std::string, torch::Tensor>> TrainableParameters(const CausalLM& model);

// Biases and norm weights get no weight decay (as Hugging Face's Trainer).
bool IsNoDecayParameter(const std::string& name);

}  // namespace tunefleet
