#include "trainer/model/lora.h"

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <ATen/CPUGeneratorImpl.h>

namespace tunefleet {
namespace {

std::string LastComponent(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

}  // namespace

absl::Status ApplyLora(CausalLM& model, const LoraConfig& config) {
  if (config.rank <= 0)
    return absl::InvalidArgumentError(absl::StrCat("lora rank must be positive, got ", config.rank));
  if (!(config.dropout >= 0.0 && config.dropout < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("lora dropout must be in [0, 1), got ", config.dropout));
  }
  if (config.target_modules.empty()) return absl::InvalidArgumentError("lora target_modules is empty");
  if (HasLora(model)) return absl::FailedPreconditionError("the model already has LoRA adapters");

  // Find every target before changing anything, so an error leaves the model as it was.
  const std::set<std::string> targets(config.target_modules.begin(), config.target_modules.end());
  std::map<std::string, int> matches;
  std::vector<LoraLinear*> chosen;
  for (const auto& item : model.named_modules()) {
    auto* linear = dynamic_cast<LoraLinear*>(item.value().get());
    const std::string last = LastComponent(item.key());
    if (linear == nullptr || targets.count(last) == 0) continue;
    ++matches[last];
    chosen.push_back(linear);
  }
  for (const std::string& target : targets) {
    if (matches[target] == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("lora target_modules \"", target,
                       "\" names no projection of this model (known: q_proj, k_proj, "
                       "v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head)"));
    }
  }
  try {
    for (auto& p : model.parameters()) p.set_requires_grad(false);
    at::Generator generator = at::detail::createCPUGenerator(config.seed);
    for (LoraLinear* linear : chosen)
      linear->AddAdapter(config.rank, config.alpha, config.dropout, generator);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("adding LoRA adapters failed: ", e.what()));
  }
  return absl::OkStatus();
}

void MergeLora(CausalLM& model) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<LoraLinear*>(module.get())) linear->MergeAdapter();
  }
  // A merged model is a plain model: an NF4 base (QLoRA) is dequantised to
  // the model's dtype (the embedding's, the first parameter), adapter or not.
  const torch::Dtype dtype = model.parameters().front().scalar_type();
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<LoraLinear*>(module.get())) linear->DequantizeBase(dtype);
  }
}

bool HasLora(const CausalLM& model) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<const LoraLinear*>(module.get()); linear && linear->has_adapter())
      return true;
  }
  return false;
}

std::vector<std::pair<std::string, torch::Tensor>> TrainableParameters(const CausalLM& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : model.named_parameters()) {
    if (item.value().requires_grad()) out.emplace_back(item.key(), item.value());
  }
  return out;
}

bool IsNoDecayParameter(const std::string& name) {
  return absl::EndsWith(name, ".bias") || absl::EndsWith(name, "norm.weight");
}

}  // namespace tunefleet
