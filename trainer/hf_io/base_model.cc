#include "trainer/hf_io/base_model.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"
#include "trainer/gguf/gguf_file.h"
#include "trainer/gguf/gguf_model.h"
#include "trainer/gguf/gguf_tokenizer.h"
#include "trainer/hf_io/hf_model_loader.h"
#include "trainer/safetensors/atomic_file.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadText(const std::string& path) {
  absl::StatusOr<std::string> text = ReadUserFile(path);  // through the path policy
  if (!text.ok()) return absl::Status(text.status().code(), absl::StrCat("cannot open ", path, ": ", text.status().message()));
  return text;
}

absl::Status CopyHfSideFiles(const std::string& dir, const std::string& out_dir) {
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json", "chat_template.jinja"}) {
    const fs::path from = fs::path(dir) / name;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(from, ec))) continue;
    // Read and written through the path policy (fs::copy_file would follow
    // a link out of the model folder, or through one at the destination).
    absl::StatusOr<std::string> text = ReadText(from.string());
    if (!text.ok()) return text.status();
    if (absl::Status s = WriteFileAtomically((fs::path(out_dir) / name).string(), *text); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteGgufSideFiles(const GgufFile& file, const std::string& out_dir) {
  auto tokenizer = GgufTokenizer(file);
  if (!tokenizer.ok()) return tokenizer.status();
  if (auto s = WriteFileAtomically(out_dir + "/tokenizer.json", tokenizer->tokenizer_json); !s.ok()) return s;
  if (auto s = WriteFileAtomically(out_dir + "/tokenizer_config.json", tokenizer->tokenizer_config_json); !s.ok()) return s;
  const nlohmann::json config = nlohmann::json::parse(tokenizer->tokenizer_config_json);
  nlohmann::ordered_json special = nlohmann::ordered_json::object();
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    if (config.contains(key)) special[key] = config[key];
  }
  if (auto s = WriteFileAtomically(out_dir + "/special_tokens_map.json", special.dump(2)); !s.ok()) return s;
  nlohmann::ordered_json generation = {{"_from_model_config", false}};
  if (tokenizer->bos_token_id) generation["bos_token_id"] = *tokenizer->bos_token_id;
  if (tokenizer->eos_token_id) generation["eos_token_id"] = *tokenizer->eos_token_id;
  if (tokenizer->pad_token_id) generation["pad_token_id"] = *tokenizer->pad_token_id;
  return WriteFileAtomically(out_dir + "/generation_config.json", generation.dump(2));
}

}  // namespace

absl::StatusOr<ModelConfig> LoadBaseModelConfig(const std::string& path) {
  if (!IsGgufFile(path)) return LoadModelConfig(path + "/config.json");
  auto file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  return GgufModelConfig(**file);
}

absl::StatusOr<std::shared_ptr<CausalLM>> LoadBaseModel(const std::string& path, const torch::TensorOptions& options) {
  if (!IsGgufFile(path)) return LoadHfModel(path, options);
  auto file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  auto config = GgufModelConfig(**file);
  if (!config.ok()) return config.status();
  auto model = CreateModel(*config, options);
  if (!model.ok()) return model.status();
  if (auto s = LoadWeights(**model, GgufWeightSource(**file, *config)); !s.ok()) return s;
  return model;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadBaseTokenizer(const std::string& path) {
  if (!IsGgufFile(path)) return Tokenizer::FromFile(path + "/tokenizer.json");
  auto file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  auto files = GgufTokenizer(**file);
  if (!files.ok()) return files.status();
  return Tokenizer::FromJson(files->tokenizer_json, path + " (tokenizer.ggml.*)");
}

absl::Status WriteBaseSideFiles(const std::string& path, const std::string& out_dir) {
  if (!IsGgufFile(path)) return CopyHfSideFiles(path, out_dir);
  auto file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  return WriteGgufSideFiles(**file, out_dir);
}

absl::StatusOr<std::string> ExportConfigJson(const std::string& path, const std::string& torch_dtype) {
  if (IsGgufFile(path)) {
    auto config = LoadBaseModelConfig(path);
    if (!config.ok()) return config.status();
    config->torch_dtype = torch_dtype;
    return config->ToJson();
  }
  const std::string from = path + "/config.json";
  auto text = ReadText(from);
  if (!text.ok()) return text.status();
  try {
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(*text);
    config["torch_dtype"] = torch_dtype;
    return config.dump(2);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(from, ": ", e.what()));
  }
}

}  // namespace tunefleet
