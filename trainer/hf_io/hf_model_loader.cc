#include "trainer/hf_io/hf_model_loader.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"
#include "common/json_integer.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_config.h"
#include "trainer/model/model_weights_check.h"
#include "trainer/model/weight_loading.h"
#include "trainer/safetensors/safetensors_torch.h"
#include "trainer/safetensors/sharded_weights.h"

namespace tunefleet {
namespace {

WeightSource SourceOf(const ShardedWeights& weights) {
  WeightSource source;
  source.names = weights.names();
  source.get = [&weights](const std::string& name) -> absl::StatusOr<torch::Tensor> {
    auto view = weights.Get(name);
    if (!view.ok()) return view.status();
    return ToTorch(**view);
  };
  return source;
}

}  // namespace

absl::StatusOr<std::shared_ptr<CausalLM>> LoadHfModel(const std::string& dir,
                                                      const torch::TensorOptions& options) {
  auto config = LoadModelConfig(dir + "/config.json");
  if (!config.ok()) return config.status();
  // The weights' headers first (mapped, nothing read): a config that does
  // not match them fails here, before CreateModel allocates from its numbers.
  auto weights = OpenModelWeights(dir);
  if (!weights.ok()) return weights.status();
  WeightShapes shapes;
  for (const std::string& name : (*weights)->names()) shapes[name] = (*weights)->Find(name)->shape;
  if (auto s = CheckConfigAgainstWeights(*config, shapes, dir); !s.ok()) return s;
  auto model = CreateModel(*config, options);
  if (!model.ok()) return model.status();
  if (auto s = LoadWeights(**model, SourceOf(**weights)); !s.ok()) return s;
  return model;
}

absl::Status LoadPeftAdapter(CausalLM& model, const std::string& adapter_dir) {
  const std::string config_path = adapter_dir + "/adapter_config.json";
  absl::StatusOr<std::string> text = ReadUserFile(config_path);  // through the path policy
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("cannot open ", config_path, ": ", text.status().message()));
  }
  LoraConfig lora;
  try {
    const nlohmann::json config = nlohmann::json::parse(*text);
    const auto peft_type = config.find("peft_type");
    if (peft_type == config.end() || *peft_type != "LORA") {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": peft_type must be LORA"));
    }
    lora.rank = JsonIntegerAt<int64_t>(config, "r");
    lora.alpha = config.at("lora_alpha").get<double>();
    lora.dropout = config.value("lora_dropout", 0.0);
    if (config.at("target_modules").is_string()) {
      return absl::UnimplementedError(absl::StrCat(
          config_path, ": target_modules as a regular expression is not supported (give a list)"));
    }
    lora.target_modules = config.at("target_modules").get<std::vector<std::string>>();
    // PEFT options that change the computation and that LoraLinear does not
    // implement: rejected by name rather than loaded silently wrong.
    auto set = [&](const char* key) {
      const auto it = config.find(key);
      if (it == config.end() || it->is_null()) return false;
      if (it->is_boolean()) return it->get<bool>();
      if (it->is_object() || it->is_array()) return !it->empty();
      if (it->is_string()) return *it != "" && *it != "none";
      return true;
    };
    for (const char* key :
         {"use_rslora", "use_dora", "use_qalora", "lora_bias", "bias", "rank_pattern", "alpha_pattern",
          "exclude_modules", "modules_to_save", "layers_to_transform", "fan_in_fan_out", "target_parameters",
          "trainable_token_indices", "layer_replication"}) {
      if (set(key)) {
        return absl::UnimplementedError(
            absl::StrCat(config_path, ": unsupported PEFT option \"", key, "\": ", config.at(key).dump()));
      }
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", e.what()));
  }
  if (auto s = ApplyLora(model, lora); !s.ok()) return s;
  auto weights = ShardedWeights::OpenFile(adapter_dir + "/adapter_model.safetensors");
  if (!weights.ok()) return weights.status();
  return LoadLoraWeights(model, SourceOf(**weights));
}

}  // namespace tunefleet
