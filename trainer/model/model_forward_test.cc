#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>
#include <string>

#include "trainer/model/llama_model.h"
#include "trainer/model/loss.h"
#include "trainer/model/model_init.h"
#include "trainer/model/model_test_util.h"
#include "trainer/model/rms_norm.h"
#include "trainer/model/rotary_embedding.h"
#include "trainer/model/weight_loading.h"

namespace tunefleet {
namespace {

using testing::MaxAbsDiff;
using testing::Positions;
using testing::RandomIds;
using testing::TinyConfig;
using testing::TinyModel;

std::set<std::string> ParameterNames(const CausalLM& model) {
  std::set<std::string> names;
  for (const auto& item : model.named_parameters()) names.insert(item.key());
  return names;
}

TEST(ModelForwardTest, ParameterNamesAreHuggingFaces) {
  auto model = TinyModel(TinyConfig("llama"));
  const std::set<std::string> names = ParameterNames(*model);
  for (const char* name :
       {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight",
        "model.layers.0.self_attn.o_proj.weight", "model.layers.1.mlp.gate_proj.weight",
        "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight",
        "model.layers.1.input_layernorm.weight", "model.layers.1.post_attention_layernorm.weight",
        "model.norm.weight", "lm_head.weight"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  // 1 embedding + 2 layers x 9 + final norm + lm_head.
  EXPECT_EQ(names.size(), 1u + 2 * 9 + 1 + 1);
  EXPECT_EQ(model->named_parameters()["model.layers.0.self_attn.k_proj.weight"].sizes(),
            (std::vector<int64_t>{2 * 16, 32}));
}

TEST(ModelForwardTest, Qwen2HasQkvBiasButNoOBias) {
  auto model = TinyModel(TinyConfig("qwen2"));
  const std::set<std::string> names = ParameterNames(*model);
  EXPECT_TRUE(names.count("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_TRUE(names.count("model.layers.0.self_attn.k_proj.bias"));
  EXPECT_TRUE(names.count("model.layers.0.self_attn.v_proj.bias"));
  EXPECT_FALSE(names.count("model.layers.0.self_attn.o_proj.bias"));
  EXPECT_FALSE(names.count("model.layers.0.mlp.up_proj.bias"));

  ModelConfig llama = TinyConfig("llama");
  llama.attention_bias = true;
  EXPECT_TRUE(ParameterNames(*TinyModel(llama)).count("model.layers.1.self_attn.o_proj.bias"));
}

TEST(ModelForwardTest, LogitsShapeAndDtype) {
  auto model = TinyModel(TinyConfig());
  torch::Tensor logits = model->Forward(RandomIds(2, 7, 64, 1), Positions(2, 7));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 7, 64}));
  EXPECT_EQ(logits.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

TEST(ModelForwardTest, IsCausal) {
  auto model = TinyModel(TinyConfig());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = RandomIds(1, 12, 64, 2);
  torch::Tensor before = model->Forward(ids, Positions(1, 12));
  torch::Tensor changed = ids.clone();
  changed[0][8] = (changed[0][8].item<int64_t>() + 1) % 64;
  torch::Tensor after = model->Forward(changed, Positions(1, 12));
  EXPECT_LT(MaxAbsDiff(before.slice(1, 0, 8), after.slice(1, 0, 8)), 1e-6);
  EXPECT_GT(MaxAbsDiff(before.slice(1, 8), after.slice(1, 8)), 1e-4);
}

TEST(ModelForwardTest, PackedSegmentsAreIsolated) {
  auto model = TinyModel(TinyConfig());
  torch::NoGradGuard no_grad;
  torch::Tensor a = RandomIds(1, 5, 64, 3);
  torch::Tensor b = RandomIds(1, 7, 64, 4);
  torch::Tensor packed = torch::cat({a, b}, 1);
  torch::Tensor positions = torch::cat({Positions(1, 5), Positions(1, 7)}, 1);
  torch::Tensor segments =
      torch::cat({torch::zeros({1, 5}, torch::kInt64), torch::ones({1, 7}, torch::kInt64)}, 1);
  torch::Tensor logits = model->Forward(packed, positions, segments);

  torch::Tensor alone_a = model->Forward(a, Positions(1, 5));
  torch::Tensor alone_b = model->Forward(b, Positions(1, 7));
  EXPECT_LT(MaxAbsDiff(logits.slice(1, 0, 5), alone_a), 1e-5);
  EXPECT_LT(MaxAbsDiff(logits.slice(1, 5), alone_b), 1e-5);

  // Without segment ids the second sequence sees the first: different logits.
  torch::Tensor unpacked = model->Forward(packed, positions);
  EXPECT_GT(MaxAbsDiff(unpacked.slice(1, 5), alone_b), 1e-4);
}

TEST(ModelForwardTest, PackingWorksPerRowOfABatch) {
  auto model = TinyModel(TinyConfig());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = RandomIds(2, 8, 64, 5);
  // Row 0: one segment of 8; row 1: segments of 3 and 5.
  torch::Tensor segments =
      torch::tensor({0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 7, 9, 9, 9, 9, 9}, torch::kInt64).view({2, 8});
  torch::Tensor positions =
      torch::tensor({0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 0, 1, 2, 3, 4}, torch::kInt64).view({2, 8});
  torch::Tensor logits = model->Forward(ids, positions, segments);
  EXPECT_LT(MaxAbsDiff(logits[0], model->Forward(ids.slice(0, 0, 1), Positions(1, 8))[0]), 1e-5);
  torch::Tensor tail = ids.slice(0, 1, 2).slice(1, 3);
  EXPECT_LT(MaxAbsDiff(logits[1].slice(0, 3), model->Forward(tail, Positions(1, 5))[0]), 1e-5);
}

// A GQA model equals the multi-head model whose k/v projections repeat each
// kv head for its group of query heads.
TEST(ModelForwardTest, GroupedQueryAttentionMatchesExplicitRepeat) {
  ModelConfig gqa = TinyConfig();
  ModelConfig mha = gqa;
  mha.num_key_value_heads = mha.num_attention_heads;
  auto grouped = TinyModel(gqa, 7);
  auto full = TinyModel(mha, 8);
  std::map<std::string, torch::Tensor> weights;
  const int64_t groups = gqa.num_attention_heads / gqa.num_key_value_heads;
  for (const auto& [name, tensor] : NamedStateDict(*grouped).weights) {
    torch::Tensor t = tensor;
    if (name.find("k_proj") != std::string::npos || name.find("v_proj") != std::string::npos) {
      t = t.view({gqa.num_key_value_heads, gqa.head_dim, gqa.hidden_size})
              .repeat_interleave(groups, /*dim=*/0)
              .reshape({mha.num_key_value_heads * mha.head_dim, mha.hidden_size});
    }
    weights[name] = t;
  }
  ASSERT_TRUE(LoadWeights(*full, weights).ok());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = RandomIds(2, 9, 64, 9);
  EXPECT_LT(MaxAbsDiff(grouped->Forward(ids, Positions(2, 9)), full->Forward(ids, Positions(2, 9))), 1e-5);
}

TEST(RotaryTest, PlainInvFreqIsThetaPower) {
  ModelConfig c = TinyConfig();
  torch::Tensor inv = ComputeInvFreq(c);
  ASSERT_EQ(inv.numel(), c.head_dim / 2);
  for (int64_t i = 0; i < inv.numel(); ++i) {
    EXPECT_NEAR(inv[i].item<double>(), 1.0 / std::pow(c.rope_theta, 2.0 * i / c.head_dim), 1e-6);
  }
}

// Llama 3.2's settings; the expected values come from the formula in the
// Llama 3 reference code, in double precision.
TEST(RotaryTest, Llama3ScalingMatchesTheFormula) {
  ModelConfig c = TinyConfig();
  c.head_dim = 64;
  c.rope_theta = 500000.0;
  c.rope_scaling = RopeScaling{"llama3", 32.0, 1.0, 4.0, 8192};
  torch::Tensor inv = ComputeInvFreq(c);
  const double low_freq_wavelen = 8192 / 1.0, high_freq_wavelen = 8192 / 4.0;
  int high = 0, low = 0, medium = 0;
  for (int64_t i : {0, 1, 5, 10, 15, 17, 18, 19, 20, 21, 22, 25, 31}) {
    const double base = 1.0 / std::pow(500000.0, 2.0 * i / 64);
    const double wavelen = 2 * M_PI / base;
    double expected;
    if (wavelen < high_freq_wavelen) {
      expected = base, ++high;
    } else if (wavelen > low_freq_wavelen) {
      expected = base / 32.0, ++low;
    } else {
      const double smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0);
      expected = (1 - smooth) * base / 32.0 + smooth * base, ++medium;
    }
    EXPECT_NEAR(inv[i].item<double>() / expected, 1.0, 1e-5) << "index " << i;
  }
  // The chosen indices cover all three bands.
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(medium, 0);
}

TEST(RotaryTest, ScoresDependOnRelativePositionOnly) {
  ModelConfig c = TinyConfig();
  RotaryEmbedding rope(c);
  torch::manual_seed(3);
  torch::Tensor q = torch::randn({1, 1, 1, c.head_dim}), k = torch::randn({1, 1, 1, c.head_dim});
  auto score = [&](int64_t pq, int64_t pk) {
    auto [cq, sq] = rope.CosSin(torch::full({1, 1}, pq, torch::kInt64), torch::kFloat32);
    auto [ck, sk] = rope.CosSin(torch::full({1, 1}, pk, torch::kInt64), torch::kFloat32);
    return (ApplyRotary(q, cq, sq) * ApplyRotary(k, ck, sk)).sum().item<double>();
  };
  EXPECT_NEAR(score(5, 2), score(13, 10), 1e-4);
  EXPECT_NEAR(score(0, 0), (q * k).sum().item<double>(), 1e-5);
}

TEST(RmsNormTest, NormalisesInFp32AndKeepsDtype) {
  RMSNorm norm(8, 1e-6, torch::kFloat32);
  torch::NoGradGuard no_grad;
  norm.weight.copy_(torch::arange(1, 9, torch::kFloat32));
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({3, 8});
  torch::Tensor expected =
      x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-6) * torch::arange(1, 9, torch::kFloat32);
  EXPECT_LT(MaxAbsDiff(norm.forward(x), expected), 1e-5);

  RMSNorm bf16(8, 1e-6, torch::kBFloat16);
  EXPECT_EQ(bf16.forward(x.to(torch::kBFloat16)).scalar_type(), torch::kBFloat16);
}

TEST(ModelForwardTest, TiedEmbeddingsShareStorage) {
  ModelConfig c = TinyConfig();
  c.tie_word_embeddings = true;
  auto model = TinyModel(c);
  EXPECT_EQ(model->lm_head, nullptr);
  EXPECT_FALSE(ParameterNames(*model).count("lm_head.weight"));
  EXPECT_EQ(model->lm_head_weight().data_ptr(), model->model->embed_tokens->weight.data_ptr());
  // The gradient of the one tensor gathers both uses.
  torch::Tensor ids = RandomIds(1, 6, 64, 1);
  LossOutput loss = ComputeLoss(model->Forward(ids, Positions(1, 6)), ids);
  loss.mean.backward();
  torch::Tensor grad = model->model->embed_tokens->weight.grad();
  ASSERT_TRUE(grad.defined());
  // Rows of tokens never in the input get gradient only through the head.
  EXPECT_GT(grad.abs().sum(1).gt(0).sum().item<int64_t>(), 6);
}

TEST(ModelForwardTest, RandomInitIsSeededAndLikeHuggingFace) {
  ModelConfig c = TinyConfig();
  c.vocab_size = 256;
  c.pad_token_id = 3;
  auto a = TinyModel(c, 11), b = TinyModel(c, 11), other = TinyModel(c, 12);
  torch::Tensor wa = a->model->embed_tokens->weight;
  EXPECT_TRUE(torch::equal(wa, b->model->embed_tokens->weight));
  EXPECT_FALSE(torch::equal(wa, other->model->embed_tokens->weight));
  EXPECT_NEAR(wa.std().item<double>(), 0.02, 0.002);
  EXPECT_EQ(wa[3].abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(a->model->norm->weight, torch::ones({32})));
}

TEST(ModelForwardTest, Bf16ModelMatchesFp32Loosely) {
  auto fp32 = TinyModel(TinyConfig(), 5);
  auto bf16 = TinyModel(TinyConfig(), 5, torch::kBFloat16);
  EXPECT_EQ(bf16->model->layers[0]->mlp->up_proj->weight.scalar_type(), torch::kBFloat16);
  torch::NoGradGuard no_grad;
  torch::Tensor ids = RandomIds(2, 10, 64, 6);
  torch::Tensor a = fp32->Forward(ids, Positions(2, 10));
  torch::Tensor b = bf16->Forward(ids, Positions(2, 10), torch::zeros({2, 10}, torch::kInt64));
  EXPECT_EQ(b.scalar_type(), torch::kFloat32);
  EXPECT_LT(MaxAbsDiff(a, b), 0.05 * a.abs().max().item<double>() + 1e-3);
}

TEST(LossTest, MeanSumAndCountIgnoreMinus100) {
  torch::manual_seed(4);
  torch::Tensor logits = torch::randn({2, 3, 5});
  torch::Tensor labels = torch::tensor({1, -100, 4, 0, 2, -100}, torch::kInt64).view({2, 3});
  LossOutput loss = ComputeLoss(logits, labels);
  torch::Tensor logp = torch::log_softmax(logits, -1);
  const double expected = -(logp[0][0][1] + logp[0][2][4] + logp[1][0][0] + logp[1][1][2]).item<double>();
  EXPECT_NEAR(loss.sum.item<double>(), expected, 1e-5);
  EXPECT_EQ(loss.count.item<int64_t>(), 4);
  EXPECT_NEAR(loss.mean.item<double>(), expected / 4, 1e-6);

  LossOutput none = ComputeLoss(logits, torch::full({2, 3}, -100, torch::kInt64));
  EXPECT_EQ(none.count.item<int64_t>(), 0);
  EXPECT_EQ(none.mean.item<double>(), 0.0);
}

TEST(ModelForwardTest, CreateModelRejectsInvalidConfig) {
  ModelConfig c = TinyConfig();
  c.num_key_value_heads = 3;
  absl::StatusOr<std::shared_ptr<CausalLM>> model = CreateModel(c);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()), ::testing::HasSubstr("num_key_value_heads"));
}

}  // namespace
}  // namespace tunefleet
