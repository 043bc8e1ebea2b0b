#include "trainer/tools/export_command.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "common/crypto/key_config.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/encrypted_export.h"
#include "trainer/checkpoint/hf_export.h"
#include "trainer/checkpoint/loader.h"
#include "trainer/hf_io/hf_model_export.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/model/base_quantization.h"
#include "trainer/model/lora.h"
#include "trainer/model/weight_loading.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

// A step folder as given, or a job folder's newest checkpoint that verifies.
absl::StatusOr<CommittedCheckpoint> ResolveCheckpoint(const std::string& path) {
  const fs::path dir = fs::absolute(path).lexically_normal();
  const fs::path clean = dir.filename().empty() ? dir.parent_path() : dir;
  if (auto step = ParseStepDirectoryName(clean.filename().string())) {
    auto manifest = ReadManifest(clean.string());
    if (!manifest.ok()) return manifest.status();
    return CommittedCheckpoint{*step, clean.string(), *manifest};
  }
  return FindNewestValidCheckpoint(CheckpointRoot{clean.parent_path().string(), clean.filename().string()});
}

absl::StatusOr<LoraConfig> LoraConfigFromExtra(const std::map<std::string, std::string>& extra) {
  LoraConfig lora;
  auto get = [&](const char* key) -> absl::StatusOr<std::string> {
    auto it = extra.find(key);
    if (it == extra.end()) return absl::DataLossError(absl::StrCat("the trainer state has no ", key));
    return it->second;
  };
  auto rank = get("lora_rank");
  auto alpha = get("lora_alpha");
  auto dropout = get("lora_dropout");
  auto targets = get("lora_target_modules");
  if (!rank.ok()) return rank.status();
  if (!alpha.ok()) return alpha.status();
  if (!dropout.ok()) return dropout.status();
  if (!targets.ok()) return targets.status();
  if (!absl::SimpleAtoi(*rank, &lora.rank) || !absl::SimpleAtod(*alpha, &lora.alpha) ||
      !absl::SimpleAtod(*dropout, &lora.dropout)) {
    return absl::DataLossError("malformed LoRA settings in the trainer state");
  }
  lora.target_modules = absl::StrSplit(*targets, ',', absl::SkipEmpty());
  return lora;
}

// A LoRA checkpoint holds only the adapters: rebuild base + adapters.
absl::Status ExportLora(const LoadedCheckpoint& loaded, const ExportCommandOptions& options,
                        const std::string& format) {
  auto lora = LoraConfigFromExtra(loaded.trainer_state.extra);
  if (!lora.ok()) return lora.status();
  auto model = LoadBaseModel(options.base_model);
  if (!model.ok()) return model.status();
  if (auto s = ApplyLora(**model, *lora); !s.ok()) return s;
  // Adapters trained over an NF4 base merge into that base (dequantised),
  // not into the float weights they never saw.
  const auto base = loaded.trainer_state.extra.find(kBaseQuantizationKey);
  if (base != loaded.trainer_state.extra.end() && base->second == kBaseNf4) {
    if (auto s = QuantizeBaseToNf4(**model, torch::kCPU); !s.ok()) return s;
  }
  const std::map<std::string, torch::Tensor> adapters(loaded.model_weights.begin(), loaded.model_weights.end());
  if (auto s = LoadLoraWeights(**model, adapters); !s.ok()) return s;
  if (format == "peft_adapter") return ExportPeftAdapter(**model, *lora, options.base_model, options.out);
  MergeLora(**model);  // hf_model of a LoRA run is the merged model
  return ExportHfModel(**model, options.base_model, options.out);
}

}  // namespace

void AddExportOptions(CLI::App& command, ExportCommandOptions& options) {
  command.add_option("--checkpoint", options.checkpoint, "A step folder, or a job folder (its newest valid checkpoint)")
      ->required();
  command.add_option("--base-model", options.base_model, "The base model the run started from (a HF directory or a GGUF file)")->required();
  command.add_option("--out", options.out, "Output directory")->required();
  command.add_option("--format", options.format, "hf_model, peft_adapter or merged_model (default: by the run)")
      ->check(CLI::IsMember({"hf_model", "peft_adapter", "merged_model"}));
  command.add_option("--encryption-key-file", options.encryption_key_file,
                     "Key file of an encrypted checkpoint; the export is encrypted too (default: "
                     "$TUNEFLEET_ENCRYPTION_KEY_FILE; `decrypt` makes it readable by other tools)");
}

absl::Status RunExport(const ExportCommandOptions& options) {
  auto keys = crypto::LoadConfiguredKeyRing(options.encryption_key_file);
  if (!keys.ok()) return keys.status();
  auto checkpoint = ResolveCheckpoint(options.checkpoint);
  if (!checkpoint.ok()) return checkpoint.status();
  ResumeRequest request;  // as rank 0 of 1: verifies and reads the weights and rank 0's state
  request.load_optimizer_shard = false;
  request.encryption = keys->get();
  auto loaded = LoadCheckpoint(*checkpoint, request);
  if (!loaded.ok()) return loaded.status();
  auto kind = loaded->trainer_state.extra.find("weights");
  const bool lora = kind != loaded->trainer_state.extra.end() && kind->second == "lora_adapters";
  const std::string format = !options.format.empty() ? options.format : lora ? "peft_adapter" : "hf_model";
  if (!lora && format == "peft_adapter") {
    return absl::FailedPreconditionError(
        absl::StrCat(checkpoint->dir, " is a full fine-tune: it has no adapter (use hf_model)"));
  }
  // With a key, written to a private staging folder and encrypted into --out.
  const absl::Status s = WriteExport(options.out, keys->get(), [&](const std::string& dir) {
    ExportCommandOptions to = options;
    to.out = dir;
    if (lora) return ExportLora(*loaded, to, format);
    return ExportCheckpointToHf(*checkpoint, options.base_model, dir, keys->get());  // a verified copy
  });
  if (!s.ok()) return s;
  std::printf("exported %s (step %lld) as %s to %s%s\n", checkpoint->dir.c_str(),
              static_cast<long long>(checkpoint->step), format.c_str(), options.out.c_str(),
              *keys ? " (encrypted)" : "");
  return absl::OkStatus();
}

}  // namespace tunefleet
