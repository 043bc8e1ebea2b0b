// The fused CPU kernels (RMSNorm, rotary) against Hugging Face's op-by-op form on
// the same inputs: forward and both gradients, with shapes that cover a
// partial vector, a single row and rows spread over several blocks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>

#include "trainer/model/rms_norm.h"
#include "trainer/model/rotary_embedding.h"

namespace tunefleet {
namespace {

torch::Tensor ReferenceRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  return RmsNormOpByOp(x, weight, eps);
}

struct Grads {
  torch::Tensor y, dx, dw;
};

template <typename Fn>
Grads ForwardBackward(Fn fn, const torch::Tensor& x0, const torch::Tensor& w0, const torch::Tensor& dy) {
  torch::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
  torch::Tensor y = fn(x, w);
  y.backward(dy);
  return {y.detach(), x.grad(), w.grad()};
}

class FusedRmsNormTest : public ::testing::TestWithParam<std::tuple<int64_t, int64_t>> {};

TEST_P(FusedRmsNormTest, MatchesHuggingFacesOpsForwardAndBackward) {
  const auto [rows, n] = GetParam();
  torch::manual_seed(7);
  const torch::Tensor x = torch::randn({rows, n}) * 3;
  const torch::Tensor w = torch::randn({n});
  const torch::Tensor dy = torch::randn({rows, n});
  const double eps = 1e-5;
  const Grads fused = ForwardBackward([&](auto& a, auto& b) { return RmsNorm(a, b, eps); }, x, w, dy);
  const Grads ref = ForwardBackward([&](auto& a, auto& b) { return ReferenceRmsNorm(a, b, eps); }, x, w, dy);
  EXPECT_TRUE(torch::allclose(fused.y, ref.y, 1e-5, 1e-5)) << (fused.y - ref.y).abs().max();
  EXPECT_TRUE(torch::allclose(fused.dx, ref.dx, 1e-4, 1e-5)) << (fused.dx - ref.dx).abs().max();
  EXPECT_TRUE(torch::allclose(fused.dw, ref.dw, 1e-4, 1e-4)) << (fused.dw - ref.dw).abs().max();
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedRmsNormTest,
                         ::testing::Values(std::make_tuple(int64_t{1}, int64_t{5}),
                                           std::make_tuple(int64_t{3}, int64_t{64}),
                                           std::make_tuple(int64_t{200}, int64_t{131}),
                                           std::make_tuple(int64_t{1000}, int64_t{576})));

TEST(FusedRmsNormTest, AGradientOnlyForTheInputLeavesTheFrozenWeightAlone) {
  torch::manual_seed(3);
  torch::Tensor x = torch::randn({4, 8, 32}).requires_grad_(true);
  const torch::Tensor w = torch::randn({32});  // frozen, as under LoRA
  RmsNorm(x, w, 1e-6).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().sizes(), x.sizes());
  EXPECT_FALSE(w.grad().defined());
}

TEST(FusedRmsNormTest, NonContiguousInputIsNormalisedAlongItsLastDimension) {
  torch::manual_seed(5);
  const torch::Tensor base = torch::randn({6, 16, 4});
  const torch::Tensor x = base.transpose(1, 2);  // [6, 4, 16], not contiguous
  const torch::Tensor w = torch::randn({16});
  EXPECT_TRUE(torch::allclose(RmsNorm(x, w, 1e-6), ReferenceRmsNorm(x, w, 1e-6), 1e-5, 1e-6));
}

TEST(FusedRmsNormTest, TheResultDoesNotDependOnTheNumberOfThreads) {
  torch::manual_seed(11);
  const torch::Tensor x = torch::randn({777, 96});
  const torch::Tensor w = torch::randn({96});
  const torch::Tensor dy = torch::randn({777, 96});
  const int before = torch::get_num_threads();
  torch::set_num_threads(1);
  const Grads one = ForwardBackward([](auto& a, auto& b) { return RmsNorm(a, b, 1e-5); }, x, w, dy);
  torch::set_num_threads(2);
  const Grads two = ForwardBackward([](auto& a, auto& b) { return RmsNorm(a, b, 1e-5); }, x, w, dy);
  torch::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one.y, two.y));
  EXPECT_TRUE(torch::equal(one.dx, two.dx));
  EXPECT_TRUE(torch::equal(one.dw, two.dw));
}

TEST(FusedRmsNormTest, Bf16KeepsHuggingFacesOps) {
  const torch::Tensor x = torch::randn({4, 16}).to(torch::kBFloat16);
  const torch::Tensor w = torch::ones({16}, torch::kBFloat16);
  EXPECT_TRUE(torch::equal(RmsNorm(x, w, 1e-6), ReferenceRmsNorm(x, w, 1e-6)));
}

torch::Tensor ReferenceRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const torch::Tensor rotated = torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
  return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}

TEST(FusedRotaryTest, EqualsHuggingFacesOpsForwardAndBackwardInTheAttentionsLayout) {
  torch::manual_seed(13);
  const int64_t b = 2, t = 7, heads = 3, d = 10;
  const torch::Tensor cos = torch::randn({b, t, d}), sin = torch::randn({b, t, d});
  // As the attention passes q: a [B, T, H, D] projection viewed as [B, H, T, D].
  const torch::Tensor base = torch::randn({b, t, heads, d});
  const torch::Tensor dy = torch::randn({b, heads, t, d});
  torch::Tensor x1 = base.clone().requires_grad_(true), x2 = base.clone().requires_grad_(true);
  const torch::Tensor fused = ApplyRotary(x1.transpose(1, 2), cos, sin);
  const torch::Tensor ref = ReferenceRotary(x2.transpose(1, 2), cos, sin);
  EXPECT_TRUE(torch::equal(fused, ref));
  fused.backward(dy);
  ref.backward(dy);
  EXPECT_TRUE(torch::equal(x1.grad(), x2.grad())) << (x1.grad() - x2.grad()).abs().max();
}

TEST(FusedRotaryTest, AGradientLaidOutAnyWayIsRotatedBack) {
  torch::manual_seed(17);
  const torch::Tensor cos = torch::randn({1, 5, 8}), sin = torch::randn({1, 5, 8});
  torch::Tensor x1 = torch::randn({1, 4, 5, 8}).requires_grad_(true);
  torch::Tensor x2 = x1.detach().clone().requires_grad_(true);
  const torch::Tensor dy = torch::randn({1, 5, 8, 4}).permute({0, 3, 1, 2});  // last dim strided
  ApplyRotary(x1, cos, sin).backward(dy);
  ReferenceRotary(x2, cos, sin).backward(dy);
  EXPECT_TRUE(torch::equal(x1.grad(), x2.grad()));
}

}  // namespace
}  // namespace tunefleet
