// Round trips through the files other tools read: an exported model or
// adapter, loaded back, computes exactly the logits of the model it came from.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/hf_io/hf_model_export.h"
#include "trainer/hf_io/hf_model_loader.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_test_util.h"
#include "trainer/safetensors/safetensors_reader.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;
using testing::MaxAbsDiff;
using testing::Positions;
using testing::RandomIds;
using testing::TinyConfig;
using testing::TinyModel;

class HfIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("hf_io_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "base");
    std::ofstream(dir_ / "base" / "tokenizer.json") << "{}";  // copied verbatim, never parsed here
  }
  void TearDown() override { fs::remove_all(dir_); }

  torch::Tensor Logits(CausalLM& model) {
    torch::NoGradGuard no_grad;
    model.eval();
    const auto ids = RandomIds(2, 12, 64, 5);
    return model.Forward(ids, Positions(2, 12), torch::zeros({2, 12}, torch::kInt64));
  }

  // Gives every LoRA B a nonzero value: fresh adapters (B = 0) would make
  // any round trip look exact.
  static void PerturbLora(CausalLM& model) {
    torch::NoGradGuard no_grad;
    torch::manual_seed(3);
    for (auto& item : model.named_parameters()) {
      if (item.key().find("lora_B") != std::string::npos) item.value().copy_(torch::randn_like(item.value()) * 0.1);
    }
  }

  fs::path dir_;
};

TEST_F(HfIoTest, ExportedModelReloadsWithIdenticalLogits) {
  for (const char* type : {"llama", "qwen2", "qwen3", "mistral"}) {
    auto model = TinyModel(TinyConfig(type));
    const auto out = (dir_ / type).string();
    ASSERT_TRUE(ExportHfModel(*model, (dir_ / "base").string(), out).ok());
    EXPECT_TRUE(fs::exists(out + "/config.json"));
    EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));
    auto reloaded = LoadHfModel(out);
    ASSERT_TRUE(reloaded.ok()) << reloaded.status();
    EXPECT_EQ((*reloaded)->config().model_type, type);
    EXPECT_EQ(MaxAbsDiff(Logits(*model), Logits(**reloaded)), 0.0) << type;
  }
}

TEST_F(HfIoTest, PeftAdapterUsesPeftNamesAndReloadsExactly) {
  auto model = TinyModel(TinyConfig());
  LoraConfig lora;
  lora.rank = 4;
  lora.alpha = 8;
  lora.target_modules = {"q_proj", "v_proj"};
  ASSERT_TRUE(ApplyLora(*model, lora).ok());
  PerturbLora(*model);
  const auto out = (dir_ / "adapter").string();
  ASSERT_TRUE(ExportPeftAdapter(*model, lora, (dir_ / "base").string(), out).ok());

  nlohmann::json config = nlohmann::json::parse(std::ifstream(out + "/adapter_config.json"));
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 8.0);
  EXPECT_EQ(config["target_modules"], nlohmann::json({"q_proj", "v_proj"}));

  auto reader = SafetensorsFile::Open(out + "/adapter_model.safetensors");
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::set<std::string> names;
  for (const auto& info : (*reader)->tensors()) names.insert(info.name);
  // PEFT's names for layer 0's q_proj: base_model.model.<HF module>.lora_{A,B}.weight.
  EXPECT_TRUE(names.count("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(names.count("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"));
  EXPECT_EQ(names.size(), 2u * 2u * 2u);  // layers x targets x {A, B}; no base weights

  // The base model plus the adapter is the trained model.
  auto base = TinyModel(TinyConfig());
  ASSERT_TRUE(LoadPeftAdapter(*base, out).ok());
  EXPECT_EQ(MaxAbsDiff(Logits(*model), Logits(*base)), 0.0);
}

TEST_F(HfIoTest, PeftOptionsWeDoNotImplementAreRejectedByName) {
  auto model = TinyModel(TinyConfig());
  LoraConfig lora;
  lora.rank = 4;
  lora.target_modules = {"q_proj"};
  ASSERT_TRUE(ApplyLora(*model, lora).ok());
  const auto out = (dir_ / "adapter").string();
  ASSERT_TRUE(ExportPeftAdapter(*model, lora, (dir_ / "base").string(), out).ok());
  std::ifstream in(out + "/adapter_config.json");
  const nlohmann::json written = nlohmann::json::parse(in);
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"use_rslora", true},
           {"use_dora", true},
           {"bias", "all"},
           {"rank_pattern", {{"q_proj", 8}}},
           {"layers_to_transform", {0}},
           {"modules_to_save", {"lm_head"}},
           {"target_modules", "q_proj"}}) {
    SCOPED_TRACE(key);
    nlohmann::json config = written;
    config[key] = value;
    std::ofstream(out + "/adapter_config.json") << config.dump();
    auto base = TinyModel(TinyConfig());
    const absl::Status s = LoadPeftAdapter(*base, out);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << s;
    EXPECT_NE(s.message().find(key), std::string::npos) << s;
  }
}

TEST_F(HfIoTest, MergedExportMatchesTheAdaptedModel) {
  auto model = TinyModel(TinyConfig());
  ASSERT_TRUE(ApplyLora(*model, LoraConfig{}).ok());
  PerturbLora(*model);
  const torch::Tensor adapted = Logits(*model);
  MergeLora(*model);
  const auto out = (dir_ / "merged").string();
  ASSERT_TRUE(ExportHfModel(*model, (dir_ / "base").string(), out).ok());
  auto reloaded = LoadHfModel(out);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_LT(MaxAbsDiff(adapted, Logits(**reloaded)), 1e-5);
}

TEST_F(HfIoTest, MissingOrTruncatedWeightsAreNamed) {
  auto model = TinyModel(TinyConfig());
  const auto out = (dir_ / "model").string();
  ASSERT_TRUE(ExportHfModel(*model, (dir_ / "base").string(), out).ok());
  const auto weights = out + "/model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) / 2);
  auto truncated = LoadHfModel(out);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("model.safetensors"), std::string::npos) << truncated.status();

  fs::remove(weights);
  auto missing = LoadHfModel(out);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(out), std::string::npos) << missing.status();
}

// A config.json that claims more layers (or another vocabulary) than the
// weights hold fails on the weights' headers, naming both, before the model
// is built from the config's numbers.
TEST_F(HfIoTest, ConfigThatDisagreesWithTheWeightsFailsBeforeBuilding) {
  auto model = TinyModel(TinyConfig());
  const auto out = (dir_ / "model").string();
  ASSERT_TRUE(ExportHfModel(*model, (dir_ / "base").string(), out).ok());
  const nlohmann::json written = nlohmann::json::parse(std::ifstream(out + "/config.json"));
  for (const auto& [key, value, expected] : std::vector<std::tuple<std::string, int64_t, std::string>>{
           {"num_hidden_layers", 1000, "num_hidden_layers is 1000 but the weights hold 2 layer(s)"},
           {"vocab_size", 4096, "model.embed_tokens.weight has shape [64, 32], the config implies [4096, 32]"}}) {
    nlohmann::json config = written;
    config[key] = value;
    std::ofstream(out + "/config.json") << config.dump();
    auto loaded = LoadHfModel(out);
    ASSERT_FALSE(loaded.ok()) << key;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_NE(loaded.status().message().find(expected), std::string::npos) << loaded.status();
  }
}

}  // namespace
}  // namespace tunefleet
