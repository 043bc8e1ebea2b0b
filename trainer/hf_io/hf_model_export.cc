#include "trainer/hf_io/hf_model_export.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/model/weight_loading.h"
#include "trainer/safetensors/atomic_file.h"
#include "trainer/safetensors/safetensors_torch.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

absl::Status MakeDirectory(const std::string& dir) {
  // Beneath the allowed roots (the export directory is a user path).
  absl::StatusOr<UniqueFd> made = MakeUserDirectories(dir);
  if (!made.ok()) {
    return absl::Status(made.status().code(),
                        absl::StrCat("cannot create export directory ", dir, ": ", made.status().message()));
  }
  return absl::OkStatus();
}

std::string DTypeName(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat16:
      return "float16";
    default:
      return "float32";
  }
}

}  // namespace

absl::Status ExportHfModel(const CausalLM& model, const std::string& base_model_dir, const std::string& out_dir) {
  if (auto s = MakeDirectory(out_dir); !s.ok()) return s;
  const ModelStateDict state = NamedStateDict(model);
  if (state.weights.empty()) return absl::InternalError("the model has no weights to export");
  ModelConfig config = model.config();
  config.torch_dtype = DTypeName(state.weights.front().second.scalar_type());
  if (auto s = WriteTorchSafetensors(out_dir + "/model.safetensors", state.weights, {{"format", "pt"}}); !s.ok()) {
    return s;
  }
  if (auto s = WriteFileAtomically(out_dir + "/config.json", config.ToJson()); !s.ok()) return s;
  return WriteBaseSideFiles(base_model_dir, out_dir);
}

absl::Status ExportPeftAdapter(const CausalLM& model, const LoraConfig& lora, const std::string& base_model_dir,
                               const std::string& out_dir) {
  if (auto s = MakeDirectory(out_dir); !s.ok()) return s;
  const ModelStateDict state = NamedStateDict(model);
  if (state.lora.empty()) return absl::FailedPreconditionError("the model has no LoRA adapters to export");
  NamedTensors peft;
  for (const auto& [name, tensor] : state.lora) peft.emplace_back("base_model.model." + name, tensor);
  if (auto s = WriteTorchSafetensors(out_dir + "/adapter_model.safetensors", peft, {{"format", "pt"}}); !s.ok()) {
    return s;
  }
  nlohmann::json config = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base_model_dir},
      {"r", lora.rank},
      {"lora_alpha", lora.alpha},
      {"lora_dropout", lora.dropout},
      {"target_modules", lora.target_modules},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"modules_to_save", nullptr},
      {"use_rslora", false},
      {"use_dora", false},
  };
  if (auto s = WriteFileAtomically(out_dir + "/adapter_config.json", config.dump(2) + "\n"); !s.ok()) return s;
  return WriteBaseSideFiles(base_model_dir, out_dir);
}

}  // namespace tunefleet
