#include "trainer/model/linear_cross_entropy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>

#include "trainer/model/lora.h"
#include "trainer/model/loss.h"
#include "trainer/model/model_test_util.h"

namespace tunefleet {
namespace {

double MaxRelDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max() /
          b.to(torch::kFloat32).abs().max().clamp_min(1e-30))
      .item<double>();
}

struct Result {
  torch::Tensor loss, dh, dw;
};

// The loss times a non-trivial scale (as the step's 1/tokens), backward;
// the fused node told to expect that gradient, or 1 (then it rescales).
Result Fused(const torch::Tensor& h0, const torch::Tensor& w0, const torch::Tensor& labels, bool weight_grad,
             double expected_grad = 1.0) {
  torch::Tensor h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(weight_grad);
  torch::Tensor loss = LinearCrossEntropySum(h, w, labels, expected_grad);
  (loss * 0.37).backward();
  return {loss, h.grad(), w.grad()};
}

Result Unfused(const torch::Tensor& h0, const torch::Tensor& w0, const torch::Tensor& labels, bool weight_grad) {
  torch::Tensor h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(weight_grad);
  torch::Tensor logits = torch::nn::functional::linear(h, w).to(torch::kFloat32);
  torch::Tensor loss = ComputeLoss(logits.unsqueeze(0), labels.unsqueeze(0)).sum;
  (loss * 0.37).backward();
  return {loss, h.grad(), w.grad()};
}

struct Case {
  int64_t rows, hidden, vocab;
  torch::Dtype dtype;
  double tolerance;
};

TEST(LinearCrossEntropyTest, LossAndGradientsEqualTheUnfusedHeadAndLoss) {
  // 600 rows of a 65,536 vocabulary make three chunks (256, 256, 88 rows).
  ASSERT_EQ(LinearCrossEntropyChunkRows(65536), 256);
  const Case cases[] = {{96, 64, 512, torch::kFloat32, 1e-5},
                        {600, 32, 65536, torch::kFloat32, 1e-5},
                        {96, 64, 512, torch::kBFloat16, 2e-2},
                        {600, 32, 65536, torch::kBFloat16, 2e-2}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.rows << "x" << c.hidden << "x" << c.vocab << " " << c.dtype);
    torch::manual_seed(3);
    const torch::Tensor h = torch::randn({c.rows, c.hidden}).to(c.dtype);
    const torch::Tensor w = (torch::randn({c.vocab, c.hidden}) * 0.3).to(c.dtype);
    torch::Tensor labels = torch::randint(c.vocab, {c.rows}, torch::kInt64);
    labels.slice(0, 0, 5).fill_(kIgnoreIndex);  // ignored rows, in the first chunk
    labels.slice(0, c.rows - 3, c.rows).fill_(kIgnoreIndex);
    for (int variant = 0; variant < 3; ++variant) {
      const bool weight_grad = variant != 1;
      const double expected = variant == 2 ? static_cast<double>(0.37f) : 1.0;
      const Result fused = Fused(h, w, labels, weight_grad, expected), plain = Unfused(h, w, labels, weight_grad);
      EXPECT_EQ(fused.loss.scalar_type(), torch::kFloat32);
      EXPECT_LT(MaxRelDiff(fused.loss, plain.loss), c.dtype == torch::kFloat32 ? 1e-5 : 1e-3);
      EXPECT_LT(MaxRelDiff(fused.dh, plain.dh), c.tolerance);
      EXPECT_EQ(fused.dh.scalar_type(), c.dtype);
      // Ignored rows get no gradient.
      EXPECT_EQ(fused.dh.slice(0, 0, 5).abs().max().item<double>(), 0.0);
      ASSERT_EQ(fused.dw.defined(), weight_grad);
      if (weight_grad) {
        EXPECT_LT(MaxRelDiff(fused.dw, plain.dw), c.tolerance);
      }
    }
  }
}

TEST(LinearCrossEntropyTest, AllIgnoredRowsGiveZeroLossAndZeroGradients) {
  const torch::Tensor h0 = torch::randn({10, 8});
  const torch::Tensor w0 = torch::randn({40, 8});
  const Result r = Fused(h0, w0, torch::full({10}, kIgnoreIndex, torch::kInt64), true);
  EXPECT_EQ(r.loss.item<double>(), 0.0);
  EXPECT_EQ(r.dh.abs().max().item<double>(), 0.0);
  EXPECT_EQ(r.dw.abs().max().item<double>(), 0.0);
}

TEST(LinearCrossEntropyTest, WithoutGradModeComputesTheLossOnly) {
  torch::manual_seed(4);
  const torch::Tensor h = torch::randn({20, 16}).requires_grad_(true);
  const torch::Tensor w = torch::randn({50, 16});
  const torch::Tensor labels = torch::randint(50, {20}, torch::kInt64);
  torch::Tensor loss;
  {
    torch::NoGradGuard no_grad;
    loss = LinearCrossEntropySum(h, w, labels);
  }
  EXPECT_FALSE(loss.requires_grad());
  const torch::Tensor expected = ComputeLoss(torch::nn::functional::linear(h.detach(), w).unsqueeze(0),
                                             labels.unsqueeze(0))
                                     .sum;
  EXPECT_LT(MaxRelDiff(loss, expected), 1e-5);
}

// CausalLM::LossSum, fused (a plain head, tied or not, with a vocabulary
// wide enough to pass kLinearCrossEntropyMinLogits) or by the logits (a head
// with a LoRA adapter), gives ComputeLoss(Forward)'s loss and every
// trainable parameter's gradient.
TEST(LinearCrossEntropyTest, ModelLossSumEqualsTheLossOfTheLogits) {
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE(variant);
    ModelConfig c = testing::TinyConfig();
    c.tie_word_embeddings = variant == 1;
    c.vocab_size = 262144;  // 2 x 12 rows of it pass the threshold: the plain heads fuse
    ASSERT_GE(int64_t{24} * c.vocab_size, kLinearCrossEntropyMinLogits);
    std::shared_ptr<CausalLM> fused = testing::TinyModel(c, 5), plain = testing::TinyModel(c, 5);
    ASSERT_NE(fused, nullptr);
    ASSERT_NE(plain, nullptr);
    for (auto* m : {&fused, &plain}) {
      if (variant == 2) {
        LoraConfig lora;
        lora.rank = 4;
        lora.alpha = 8;
        lora.target_modules = {"q_proj", "lm_head"};
        ASSERT_TRUE(ApplyLora(**m, lora).ok());
      } else {
        for (auto& p : (*m)->parameters()) p.requires_grad_(true);
      }
    }
    torch::Tensor ids = testing::RandomIds(2, 12, c.vocab_size, 6);
    torch::Tensor labels = ids.roll(-1, 1);
    labels.select(1, 11).fill_(kIgnoreIndex);
    const torch::Tensor a = fused->LossSum(fused->ForwardHidden(ids, testing::Positions(2, 12)), labels);
    const torch::Tensor b = ComputeLoss(plain->Forward(ids, testing::Positions(2, 12)), labels).sum;
    EXPECT_LT(MaxRelDiff(a, b), 1e-5);
    a.backward();
    b.backward();
    const auto fp = fused->named_parameters(), pp = plain->named_parameters();
    int64_t compared = 0;
    for (const auto& item : fp) {
      if (!item.value().requires_grad()) continue;
      ASSERT_TRUE(item.value().grad().defined()) << item.key();
      EXPECT_LT(MaxRelDiff(item.value().grad(), pp[item.key()].grad()), 1e-4) << item.key();
      ++compared;
    }
    EXPECT_GT(compared, 0);
  }
}

TEST(LinearCrossEntropyTest, RejectsMismatchedShapes) {
  EXPECT_THROW(LinearCrossEntropySum(torch::randn({4, 8}), torch::randn({10, 6}), torch::zeros({4}, torch::kInt64)),
               c10::Error);
  EXPECT_THROW(LinearCrossEntropySum(torch::randn({4, 8}), torch::randn({10, 8}), torch::zeros({3}, torch::kInt64)),
               c10::Error);
}

}  // namespace
}  // namespace tunefleet
