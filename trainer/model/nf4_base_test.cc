#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "trainer/model/base_quantization.h"
#include "trainer/model/lora.h"
#include "trainer/model/loss.h"
#include "trainer/model/model_test_util.h"
#include "trainer/model/nf4.h"

namespace tunefleet {
namespace {

using testing::Positions;
using testing::RandomIds;
using testing::TinyConfig;
using testing::TinyModel;

LoraConfig Lora() {
  LoraConfig c;
  c.rank = 4;
  c.alpha = 8.0;
  c.seed = 3;
  c.target_modules = {"q_proj", "v_proj", "down_proj"};  // the others are quantised too
  return c;
}

// A LoRA model whose B is not zero, so every adapter's gradient is nonzero.
std::shared_ptr<CausalLM> LoraModel() {
  auto model = TinyModel(TinyConfig());
  EXPECT_TRUE(ApplyLora(*model, Lora()).ok());
  torch::NoGradGuard no_grad;
  torch::manual_seed(11);
  for (auto& [name, p] : TrainableParameters(*model)) {
    if (name.find("lora_B") != std::string::npos) p.copy_(torch::randn(p.sizes()) * 0.1);
  }
  return model;
}

double LossAndBackward(CausalLM& model) {
  torch::Tensor ids = RandomIds(2, 12, 64, 4);
  torch::Tensor labels = RandomIds(2, 12, 64, 5);
  LossOutput loss = ComputeLoss(model.Forward(ids, Positions(2, 12)), labels);
  loss.mean.backward();
  return loss.mean.item<double>();
}

std::map<std::string, LoraLinear*> Projections(CausalLM& model) {
  std::map<std::string, LoraLinear*> out;
  for (const auto& item : model.named_modules()) {
    auto* linear = dynamic_cast<LoraLinear*>(item.value().get());
    if (linear != nullptr && item.key().find("model.layers.") == 0) out[item.key()] = linear;
  }
  return out;
}

TEST(Nf4BaseTest, LossAndAdapterGradientsEqualADenseBaseOfTheDequantisedWeights) {
  auto nf4 = LoraModel();
  ASSERT_TRUE(QuantizeBaseToNf4(*nf4, torch::kCPU).ok());
  auto dense = LoraModel();
  {
    torch::NoGradGuard no_grad;
    auto quantised = Projections(*nf4);
    for (auto& [name, linear] : Projections(*dense)) {
      ASSERT_TRUE(quantised.at(name)->nf4_weight().has_value()) << name;
      linear->weight.copy_(DequantizeNf4(*quantised.at(name)->nf4_weight()));
    }
  }
  const double nf4_loss = LossAndBackward(*nf4);
  const double dense_loss = LossAndBackward(*dense);
  EXPECT_NEAR(nf4_loss, dense_loss, 1e-6 * std::abs(dense_loss));
  auto dense_params = dense->named_parameters();
  const auto trainable = TrainableParameters(*nf4);
  ASSERT_EQ(trainable.size(), 2u * 3 * 2);
  for (const auto& [name, p] : trainable) {
    ASSERT_TRUE(p.grad().defined()) << name;
    const torch::Tensor& expected = dense_params[name].grad();
    EXPECT_GT(expected.abs().max().item<double>(), 0.0) << name;
    EXPECT_TRUE(torch::allclose(p.grad(), expected, 1e-5, 1e-7)) << name;
  }
  // And the quantised base is not the original: the test would notice a
  // model that silently kept its float weights.
  auto original = LoraModel();
  const double original_loss = LossAndBackward(*original);
  EXPECT_GT(std::abs(original_loss - nf4_loss), 1e-5);
}

TEST(Nf4BaseTest, OnlyThePackedProjectionsAreResidentForTheBase) {
  const ModelConfig config = TinyConfig();
  auto model = LoraModel();
  const FrozenBaseBytes before = CountFrozenBaseBytes(*model);
  ASSERT_TRUE(QuantizeBaseToNf4(*model, torch::kCPU).ok());
  EXPECT_TRUE(HasNf4Base(*model));
  for (const auto& item : model->named_parameters()) {
    const bool projection_weight = item.key().find("_proj.weight") != std::string::npos &&
                                   item.key().find("lora_") == std::string::npos;
    EXPECT_FALSE(projection_weight) << item.key() << " is still a dense parameter";
  }
  // Per layer: q [4*16, 32], k and v [2*16, 32], o [32, 4*16], gate and up [64, 32], down [32, 64].
  const int64_t per_layer = 64 * 32 + 2 * 32 * 32 + 32 * 64 + 3 * 64 * 32;
  const int64_t projections = per_layer * config.num_hidden_layers;
  const FrozenBaseBytes after = CountFrozenBaseBytes(*model);
  EXPECT_EQ(after.nf4_parameters, projections);
  EXPECT_EQ(after.nf4, projections / 2 + projections / 64 * 4);  // 4-bit codes + a float32 scale per 64
  EXPECT_EQ(after.dense, before.dense - projections * 4);          // the float32 projections are gone
  for (auto& [name, linear] : Projections(*model)) {
    EXPECT_FALSE(linear->weight.defined()) << name;
    EXPECT_EQ(linear->nf4_weight()->packed.scalar_type(), torch::kUInt8) << name;
  }
}

TEST(Nf4BaseTest, MergingDequantisesEveryProjectionAndKeepsTheLogits) {
  auto model = LoraModel();
  ASSERT_TRUE(QuantizeBaseToNf4(*model, torch::kCPU).ok());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = RandomIds(1, 6, 64, 8);
  torch::Tensor before = model->Forward(ids, Positions(1, 6));
  MergeLora(*model);
  EXPECT_FALSE(HasNf4Base(*model));
  EXPECT_FALSE(HasLora(*model));
  auto params = model->named_parameters();
  ASSERT_TRUE(params.contains("model.layers.1.self_attn.k_proj.weight"));  // not a LoRA target
  EXPECT_EQ(params["model.layers.1.self_attn.k_proj.weight"].scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(model->Forward(ids, Positions(1, 6)), before, 1e-4, 1e-5));
}

TEST(Nf4BaseTest, RefusesATrainableBase) {
  auto model = TinyModel(TinyConfig());
  absl::Status s = QuantizeBaseToNf4(*model, torch::kCPU);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_FALSE(HasNf4Base(*model));
}

TEST(Nf4BaseTest, TrainsInBf16WithTheBaseStillPacked) {
  auto model = LoraModel();
  ASSERT_TRUE(QuantizeBaseToNf4(*model, torch::kCPU).ok());
  model->to(torch::kBFloat16);  // the packed base is no buffer: its bytes are not cast
  for (auto& [name, linear] : Projections(*model)) {
    EXPECT_EQ(linear->nf4_weight()->packed.scalar_type(), torch::kUInt8) << name;
    EXPECT_EQ(linear->nf4_weight()->absmax.scalar_type(), torch::kFloat32) << name;
  }
  LossAndBackward(*model);
  for (const auto& [name, p] : TrainableParameters(*model)) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_EQ(p.grad().scalar_type(), torch::kBFloat16) << name;
  }
}

}  // namespace
}  // namespace tunefleet
