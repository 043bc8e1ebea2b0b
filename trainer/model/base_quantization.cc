#include "trainer/model/base_quantization.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tunefleet {
namespace {

bool IsDecoderProjection(const std::string& name) {
  static const std::set<std::string> kProjections = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                     "gate_proj", "up_proj", "down_proj"};
  const size_t dot = name.rfind('.');
  const std::string last = dot == std::string::npos ? name : name.substr(dot + 1);
  return absl::StartsWith(name, "model.layers.") && kProjections.count(last) > 0;
}

}  // namespace

absl::Status QuantizeBaseToNf4(CausalLM& model, const torch::Device& device) {
  std::vector<LoraLinear*> projections;
  for (const auto& item : model.named_modules()) {
    auto* linear = dynamic_cast<LoraLinear*>(item.value().get());
    if (linear == nullptr || !IsDecoderProjection(item.key()) || linear->nf4_weight()) continue;
    if (linear->weight.requires_grad()) {
      return absl::FailedPreconditionError(
          absl::StrCat(item.key(), ".weight is trainable: only a frozen (LoRA) base can be held as NF4"));
    }
    projections.push_back(linear);
  }
  try {
    for (LoraLinear* linear : projections) linear->QuantizeBaseToNf4(device);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("quantising the base to NF4: ", e.what()));
  }
  return absl::OkStatus();
}

bool HasNf4Base(const CausalLM& model) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<const LoraLinear*>(module.get()); linear && linear->nf4_weight()) return true;
  }
  return false;
}

FrozenBaseBytes CountFrozenBaseBytes(const CausalLM& model) {
  FrozenBaseBytes bytes;
  for (const auto& p : model.parameters()) {
    if (!p.requires_grad()) bytes.dense += static_cast<int64_t>(p.nbytes());
  }
  for (const auto& module : model.modules(/*include_self=*/false)) {
    auto* linear = dynamic_cast<const LoraLinear*>(module.get());
    if (linear == nullptr || !linear->nf4_weight()) continue;
    bytes.nf4 += linear->nf4_weight()->nbytes();
    bytes.nf4_parameters += linear->nf4_weight()->numel();
  }
  return bytes;
}

}  // namespace tunefleet
