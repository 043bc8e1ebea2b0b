#include "trainer/model/weight_loading.h"

#include <exception>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tunefleet {
namespace {

constexpr char kPeftPrefix[] = "base_model.model.";

bool IsLoraName(const std::string& name) {
  return absl::StrContains(name, ".lora_A.") || absl::StrContains(name, ".lora_B.");
}

std::string ShapeString(at::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

// Tensors a Hugging Face checkpoint may hold that this model has no place
// for and needs none: old Llama files saved RoPE's inverse frequencies, and
// some tied models save lm_head.weight, a copy of the embedding.
bool IsHarmlessExtra(const std::string& name, const CausalLM& model) {
  if (absl::EndsWith(name, ".rotary_emb.inv_freq")) return true;
  return name == "lm_head.weight" && model.config().tie_word_embeddings;
}

// Loads `expected` (name -> parameter) from `source`, whose names pass through
// `rename` first. `what` is "weight" or "LoRA weight", for messages.
absl::Status Load(const NamedTensors& expected, const WeightSource& source, const CausalLM& model,
                  const std::function<std::string(const std::string&)>& rename, const char* what) {
  std::map<std::string, std::string> source_name;  // model name -> the source's name
  std::vector<std::string> unexpected;
  std::set<std::string> wanted;
  for (const auto& [name, param] : expected) wanted.insert(name);
  for (const std::string& raw : source.names) {
    const std::string name = rename(raw);
    if (wanted.count(name)) {
      source_name[name] = raw;
    } else if (!IsHarmlessExtra(name, model)) {
      unexpected.push_back(raw);
    }
  }
  if (!unexpected.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected ", what, unexpected.size() > 1 ? "s" : "", " in checkpoint: ",
        absl::StrJoin(unexpected.begin(), unexpected.begin() + std::min<size_t>(unexpected.size(), 8), ", "),
        unexpected.size() > 8 ? ", ..." : ""));
  }
  for (const auto& [name, param] : expected) {
    if (!source_name.count(name)) return absl::NotFoundError(absl::StrCat("missing ", what, " ", name));
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, param] : expected) {
    absl::StatusOr<torch::Tensor> tensor = source.get(source_name[name]);
    if (!tensor.ok()) return tensor.status();
    if (!tensor->defined() || !at::isFloatingType(tensor->scalar_type())) {
      std::ostringstream dtype;
      if (tensor->defined()) dtype << tensor->scalar_type();
      return absl::InvalidArgumentError(absl::StrCat(what, " ", name, " must be floating point, got ",
                                                     tensor->defined() ? dtype.str() : "none"));
    }
    if (tensor->sizes() != param.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", name, " has shape ",
                                                     ShapeString(tensor->sizes()), ", expected ",
                                                     ShapeString(param.sizes())));
    }
    try {
      // copy_ converts the dtype (bf16/f16 files into an fp32 model) and the device.
      torch::Tensor target = param;
      target.copy_(*tensor);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("copying ", what, " ", name, ": ", e.what()));
    }
  }
  return absl::OkStatus();
}

std::string Same(const std::string& name) { return name; }

std::string StripPeftPrefix(const std::string& name) {
  return absl::StartsWith(name, kPeftPrefix) ? name.substr(sizeof(kPeftPrefix) - 1) : name;
}

}  // namespace

ModelStateDict NamedStateDict(const CausalLM& model) {
  ModelStateDict out;
  for (const auto& item : model.named_parameters()) {
    (IsLoraName(item.key()) ? out.lora : out.weights).emplace_back(item.key(), item.value().detach());
  }
  return out;
}

WeightSource MapWeightSource(const std::map<std::string, torch::Tensor>& tensors) {
  WeightSource source;
  for (const auto& [name, tensor] : tensors) source.names.push_back(name);
  source.get = [&tensors](const std::string& name) -> absl::StatusOr<torch::Tensor> {
    auto it = tensors.find(name);
    if (it == tensors.end()) return absl::NotFoundError(absl::StrCat("no tensor ", name));
    return it->second;
  };
  return source;
}

absl::Status LoadWeights(CausalLM& model, const WeightSource& source) {
  return Load(NamedStateDict(model).weights, source, model, Same, "weight");
}

absl::Status LoadWeights(CausalLM& model, const std::map<std::string, torch::Tensor>& tensors) {
  return LoadWeights(model, MapWeightSource(tensors));
}

absl::Status LoadLoraWeights(CausalLM& model, const WeightSource& source) {
  NamedTensors lora = NamedStateDict(model).lora;
  if (lora.empty()) return absl::FailedPreconditionError("the model has no LoRA adapters (ApplyLora first)");
  return Load(lora, source, model, StripPeftPrefix, "LoRA weight");
}

absl::Status LoadLoraWeights(CausalLM& model, const std::map<std::string, torch::Tensor>& tensors) {
  return LoadLoraWeights(model, MapWeightSource(tensors));
}

}  // namespace tunefleet
