#include "trainer/hf_io/hf_model_loader.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_config.h"
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

absl::StatusOr<std::shared_ptr<CausalLM>> LoadHfModel(const std::string& dir, const torch::TensorOptions& options) {
  auto config = LoadModelConfig(dir + "/config.json");
  if (!config.ok()) return config.status();
  auto model = CreateModel(*config, options);
  if (!model.ok()) return model.status();
  auto weights = OpenModelWeights(dir);
  if (!weights.ok()) return weights.status();
  if (auto s = LoadWeights(**model, SourceOf(**weights)); !s.ok()) return s;
  return model;
}

absl::Status LoadPeftAdapter(CausalLM& model, const std::string& adapter_dir) {
  const std::string config_path = adapter_dir + "/adapter_config.json";
  std::ifstream in(config_path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", config_path));
  LoraConfig lora;
  try {
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json config = nlohmann::json::parse(text.str());
    const auto peft_type = config.find("peft_type");
    if (peft_type == config.end() || *peft_type != "LORA") {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": peft_type must be LORA"));
    }
    lora.rank = config.at("r").get<int64_t>();
    lora.alpha = config.at("lora_alpha").get<double>();
    lora.dropout = config.value("lora_dropout", 0.0);
    lora.target_modules = config.at("target_modules").get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", e.what()));
  }
  if (auto s = ApplyLora(model, lora); !s.ok()) return s;
  auto weights = ShardedWeights::OpenFile(adapter_dir + "/adapter_model.safetensors");
  if (!weights.ok()) return weights.status();
  return LoadLoraWeights(model, SourceOf(**weights));
}

}  // namespace tunefleet
