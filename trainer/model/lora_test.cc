#include "trainer/model/lora.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "trainer/model/loss.h"
#include "trainer/model/model_test_util.h"
#include "trainer/model/weight_loading.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing::MaxAbsDiff;
using testing::Positions;
using testing::RandomIds;
using testing::TinyConfig;
using testing::TinyModel;

LoraConfig Lora(int64_t rank = 4) {
  LoraConfig c;
  c.rank = rank;
  c.alpha = 8.0;
  c.seed = 3;
  return c;
}

TEST(LoraTest, ZeroBLeavesLogitsUnchanged) {
  auto model = TinyModel(TinyConfig("qwen2"));
  torch::NoGradGuard no_grad;
  torch::Tensor ids = RandomIds(2, 8, 64, 1);
  torch::Tensor base = model->Forward(ids, Positions(2, 8));
  ASSERT_TRUE(ApplyLora(*model, Lora()).ok());
  EXPECT_TRUE(HasLora(*model));
  EXPECT_TRUE(torch::equal(model->Forward(ids, Positions(2, 8)), base));
}

TEST(LoraTest, OnlyAdaptersAreTrainableWithPeftNamesAndInit) {
  auto model = TinyModel(TinyConfig());
  ASSERT_TRUE(ApplyLora(*model, Lora(4)).ok());
  const auto trainable = TrainableParameters(*model);
  ASSERT_EQ(trainable.size(), 2u * 7 * 2);  // A and B, 7 projections, 2 layers
  for (const auto& [name, tensor] : trainable) {
    EXPECT_TRUE(name.find(".lora_A.weight") != std::string::npos ||
                name.find(".lora_B.weight") != std::string::npos)
        << name;
  }
  EXPECT_EQ(trainable[0].first, "model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(trainable[1].first, "model.layers.0.self_attn.q_proj.lora_B.weight");
  auto params = model->named_parameters();
  EXPECT_FALSE(params["model.layers.0.self_attn.q_proj.weight"].requires_grad());
  EXPECT_FALSE(params["model.embed_tokens.weight"].requires_grad());
  EXPECT_FALSE(params["model.norm.weight"].requires_grad());

  // A [rank, in] ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's kaiming_uniform, a=sqrt(5)); B [out, rank] = 0.
  torch::Tensor a = params["model.layers.1.mlp.down_proj.lora_A.weight"];
  torch::Tensor b = params["model.layers.1.mlp.down_proj.lora_B.weight"];
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(b.sizes(), (std::vector<int64_t>{32, 4}));
  EXPECT_LE(a.abs().max().item<double>(), 1.0 / 8.0);
  EXPECT_GT(a.abs().max().item<double>(), 0.1);
  EXPECT_EQ(b.abs().sum().item<double>(), 0.0);
}

TEST(LoraTest, GradientsReachOnlyAdapters) {
  auto model = TinyModel(TinyConfig());
  ASSERT_TRUE(ApplyLora(*model, Lora()).ok());
  torch::Tensor ids = RandomIds(1, 8, 64, 2);
  ComputeLoss(model->Forward(ids, Positions(1, 8)), ids).mean.backward();
  auto params = model->named_parameters();
  EXPECT_FALSE(params["model.layers.0.self_attn.q_proj.weight"].grad().defined());
  torch::Tensor grad_b = params["model.layers.0.self_attn.q_proj.lora_B.weight"].grad();
  ASSERT_TRUE(grad_b.defined());
  EXPECT_GT(grad_b.abs().sum().item<double>(), 0.0);
}

TEST(LoraTest, MergeGivesTheSameLogits) {
  auto model = TinyModel(TinyConfig());
  ASSERT_TRUE(ApplyLora(*model, Lora()).ok());
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  for (auto& [name, tensor] : TrainableParameters(*model)) {
    if (name.find("lora_B") != std::string::npos) tensor.copy_(torch::randn(tensor.sizes()) * 0.05);
  }
  torch::Tensor ids = RandomIds(2, 8, 64, 3);
  torch::Tensor base_weight = model->model->layers[0]->self_attn->v_proj->weight.clone();
  torch::Tensor adapted = model->Forward(ids, Positions(2, 8));
  MergeLora(*model);
  EXPECT_FALSE(HasLora(*model));
  EXPECT_TRUE(NamedStateDict(*model).lora.empty());
  EXPECT_FALSE(torch::equal(model->model->layers[0]->self_attn->v_proj->weight, base_weight));
  EXPECT_LT(MaxAbsDiff(model->Forward(ids, Positions(2, 8)), adapted), 1e-5);
}

TEST(LoraTest, SeededAndDropoutOffInEval) {
  LoraConfig c = Lora();
  c.dropout = 0.5;
  auto a = TinyModel(TinyConfig()), b = TinyModel(TinyConfig());
  ASSERT_TRUE(ApplyLora(*a, c).ok());
  ASSERT_TRUE(ApplyLora(*b, c).ok());
  EXPECT_TRUE(torch::equal(TrainableParameters(*a)[0].second, TrainableParameters(*b)[0].second));
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : TrainableParameters(*a)) tensor.fill_(0.1);
  torch::Tensor ids = RandomIds(1, 8, 64, 4);
  a->eval();
  torch::Tensor first = a->Forward(ids, Positions(1, 8));
  EXPECT_TRUE(torch::equal(first, a->Forward(ids, Positions(1, 8))));
  a->train();
  EXPECT_FALSE(torch::equal(first, a->Forward(ids, Positions(1, 8))));
}

TEST(LoraTest, OnlyTargetedModules) {
  auto model = TinyModel(TinyConfig());
  LoraConfig c = Lora();
  c.target_modules = {"q_proj", "v_proj"};
  ASSERT_TRUE(ApplyLora(*model, c).ok());
  EXPECT_EQ(TrainableParameters(*model).size(), 2u * 2 * 2);
  EXPECT_EQ(model->model->layers[1]->self_attn->k_proj->lora_A, nullptr);
}

TEST(LoraTest, Errors) {
  auto model = TinyModel(TinyConfig());
  LoraConfig bad_rank = Lora(0);
  EXPECT_THAT(std::string(ApplyLora(*model, bad_rank).message()), HasSubstr("rank"));
  LoraConfig unknown = Lora();
  unknown.target_modules = {"q_proj", "qkv_proj"};
  absl::Status status = ApplyLora(*model, unknown);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("qkv_proj"));
  EXPECT_FALSE(HasLora(*model));  // nothing half-applied
  ASSERT_TRUE(ApplyLora(*model, Lora()).ok());
  EXPECT_EQ(ApplyLora(*model, Lora()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(LoraTest, NoDecayNames) {
  EXPECT_TRUE(IsNoDecayParameter("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_TRUE(IsNoDecayParameter("model.layers.0.input_layernorm.weight"));
  EXPECT_TRUE(IsNoDecayParameter("model.norm.weight"));
  EXPECT_FALSE(IsNoDecayParameter("model.layers.0.self_attn.q_proj.weight"));
  EXPECT_FALSE(IsNoDecayParameter("model.layers.0.self_attn.q_proj.lora_A.weight"));
}

}  // namespace
}  // namespace tunefleet
