#include "trainer/model/weight_loading.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "trainer/model/lora.h"
#include "trainer/model/model_test_util.h"

namespace tunefleet {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::MaxAbsDiff;
using testing::Positions;
using testing::RandomIds;
using testing::TinyConfig;
using testing::TinyModel;

std::map<std::string, torch::Tensor> StateMap(const CausalLM& model,
                                              torch::ScalarType dtype = torch::kFloat32) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, tensor] : NamedStateDict(model).weights) out[name] = tensor.to(dtype).clone();
  return out;
}

std::shared_ptr<CausalLM> EmptyModel(const ModelConfig& config) {
  auto model = CreateModel(config);
  EXPECT_TRUE(model.ok()) << model.status();
  return *model;
}

TEST(WeightLoadingTest, RoundTripsExactly) {
  auto source = TinyModel(TinyConfig("qwen2"), 1);
  auto target = EmptyModel(TinyConfig("qwen2"));
  ASSERT_TRUE(LoadWeights(*target, StateMap(*source)).ok());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = RandomIds(1, 6, 64, 1);
  EXPECT_TRUE(torch::equal(target->Forward(ids, Positions(1, 6)), source->Forward(ids, Positions(1, 6))));
}

TEST(WeightLoadingTest, ConvertsBf16ToTheModelDtype) {
  auto source = TinyModel(TinyConfig(), 1);
  auto target = EmptyModel(TinyConfig());
  ASSERT_TRUE(LoadWeights(*target, StateMap(*source, torch::kBFloat16)).ok());
  torch::Tensor loaded = target->named_parameters()["model.layers.0.mlp.up_proj.weight"];
  EXPECT_EQ(loaded.scalar_type(), torch::kFloat32);
  torch::Tensor original = source->named_parameters()["model.layers.0.mlp.up_proj.weight"];
  EXPECT_TRUE(torch::equal(loaded, original.to(torch::kBFloat16).to(torch::kFloat32)));
}

TEST(WeightLoadingTest, MissingTensorIsNamed) {
  auto tensors = StateMap(*TinyModel(TinyConfig()));
  tensors.erase("model.layers.1.mlp.down_proj.weight");
  absl::Status status = LoadWeights(*EmptyModel(TinyConfig()), tensors);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("model.layers.1.mlp.down_proj.weight"));
}

TEST(WeightLoadingTest, WrongShapeNamesTensorAndShapes) {
  auto tensors = StateMap(*TinyModel(TinyConfig()));
  tensors["model.layers.0.self_attn.k_proj.weight"] = torch::zeros({3, 3});
  absl::Status status = LoadWeights(*EmptyModel(TinyConfig()), tensors);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), AllOf(HasSubstr("model.layers.0.self_attn.k_proj.weight"),
                                                   HasSubstr("[3, 3]"), HasSubstr("[32, 32]")));
}

TEST(WeightLoadingTest, UnexpectedTensorIsNamed) {
  auto tensors = StateMap(*TinyModel(TinyConfig()));
  tensors["model.layers.0.self_attn.o_proj.bias"] = torch::zeros({32});
  absl::Status status = LoadWeights(*EmptyModel(TinyConfig()), tensors);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("model.layers.0.self_attn.o_proj.bias"));
}

TEST(WeightLoadingTest, IntegerTensorIsRefused) {
  auto tensors = StateMap(*TinyModel(TinyConfig()));
  tensors["model.norm.weight"] = torch::ones({32}, torch::kInt64);
  absl::Status status = LoadWeights(*EmptyModel(TinyConfig()), tensors);
  EXPECT_THAT(std::string(status.message()), AllOf(HasSubstr("model.norm.weight"), HasSubstr("floating")));
}

TEST(WeightLoadingTest, IgnoresHarmlessExtras) {
  ModelConfig tied = TinyConfig();
  tied.tie_word_embeddings = true;
  auto source = TinyModel(tied);
  auto tensors = StateMap(*source);
  EXPECT_FALSE(tensors.count("lm_head.weight"));  // HF does not save the tied head
  tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch::ones({8});
  tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"];
  EXPECT_TRUE(LoadWeights(*EmptyModel(tied), tensors).ok());
}

TEST(WeightLoadingTest, UntiedModelNeedsItsHead) {
  auto tensors = StateMap(*TinyModel(TinyConfig()));
  tensors.erase("lm_head.weight");
  EXPECT_THAT(std::string(LoadWeights(*EmptyModel(TinyConfig()), tensors).message()),
              HasSubstr("lm_head.weight"));
}

TEST(WeightLoadingTest, SourceErrorsPassThrough) {
  auto tensors = StateMap(*TinyModel(TinyConfig()));
  WeightSource source = MapWeightSource(tensors);
  source.get = [](const std::string& name) -> absl::StatusOr<torch::Tensor> {
    return absl::DataLossError("corrupt shard holding " + name);
  };
  EXPECT_EQ(LoadWeights(*EmptyModel(TinyConfig()), source).code(), absl::StatusCode::kDataLoss);
}

TEST(WeightLoadingTest, LoraStateIsSeparateAndLoadsWithPeftPrefix) {
  auto source = TinyModel(TinyConfig());
  LoraConfig lora;
  lora.rank = 2;
  lora.seed = 1;
  ASSERT_TRUE(ApplyLora(*source, lora).ok());
  ModelStateDict state = NamedStateDict(*source);
  EXPECT_EQ(state.weights.size(), 21u);
  ASSERT_EQ(state.lora.size(), 28u);
  std::map<std::string, torch::Tensor> adapter;
  for (const auto& [name, tensor] : state.lora) adapter["base_model.model." + name] = tensor + 1.0;

  auto target = TinyModel(TinyConfig());
  lora.seed = 2;
  ASSERT_TRUE(ApplyLora(*target, lora).ok());
  ASSERT_TRUE(LoadLoraWeights(*target, adapter).ok());
  torch::Tensor loaded = target->named_parameters()["model.layers.1.mlp.gate_proj.lora_A.weight"];
  EXPECT_TRUE(torch::equal(loaded, adapter["base_model.model.model.layers.1.mlp.gate_proj.lora_A.weight"]));

  adapter.erase("base_model.model.model.layers.0.self_attn.o_proj.lora_B.weight");
  EXPECT_THAT(std::string(LoadLoraWeights(*target, adapter).message()),
              HasSubstr("model.layers.0.self_attn.o_proj.lora_B.weight"));
}

}  // namespace
}  // namespace tunefleet
