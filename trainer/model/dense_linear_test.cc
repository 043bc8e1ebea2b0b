#include "trainer/model/dense_linear.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace tunefleet {
namespace {

double MaxRelDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

struct Shape {
  int64_t tokens, in, out;
};

// Shapes on both sides of kOneDnnMinMultiplyAdds, so both backends are checked.
const std::vector<Shape> kShapes = {{2 * 64, 32, 48}, {2 * 256, 256, 384}};

TEST(DenseLinearTest, ValuesAndGradientsEqualTorchLinear) {
  for (const Shape& s : kShapes) {
    torch::manual_seed(1);
    const torch::Tensor x0 = torch::randn({2, s.tokens / 2, s.in});
    const torch::Tensor w0 = torch::randn({s.out, s.in}) * 0.05;
    const torch::Tensor b0 = torch::randn({s.out});
    const torch::Tensor dy = torch::randn({2, s.tokens / 2, s.out});
    for (bool with_bias : {false, true}) {
      torch::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
      torch::Tensor b = with_bias ? b0.clone().requires_grad_(true) : torch::Tensor();
      torch::Tensor rx = x0.clone().requires_grad_(true), rw = w0.clone().requires_grad_(true);
      torch::Tensor rb = with_bias ? b0.clone().requires_grad_(true) : torch::Tensor();
      const torch::Tensor y = DenseLinear(x, w, b);
      const torch::Tensor ry = torch::nn::functional::linear(rx, rw, rb);
      ASSERT_EQ(y.sizes(), ry.sizes());
      EXPECT_LT(MaxRelDiff(y, ry), 1e-5) << s.in << "x" << s.out;
      (y * dy).sum().backward();
      (ry * dy).sum().backward();
      EXPECT_LT(MaxRelDiff(x.grad(), rx.grad()), 1e-5);
      EXPECT_LT(MaxRelDiff(w.grad(), rw.grad()), 1e-5);
      if (with_bias) {
        EXPECT_LT(MaxRelDiff(b.grad(), rb.grad()), 1e-5);
      }
    }
  }
}

TEST(DenseLinearTest, FrozenWeightGetsNoGradient) {
  const torch::Tensor x = torch::randn({64, 256}).requires_grad_(true);
  const torch::Tensor w = torch::randn({384, 256});
  DenseLinear(x, w).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(DenseLinearTest, LoraValuesAndGradientsEqualTheUnfusedAdapter) {
  for (const Shape& s : kShapes) {
    torch::manual_seed(2);
    const int64_t rank = 8;
    const double scaling = 2.0;
    const torch::Tensor x0 = torch::randn({2, s.tokens / 2, s.in});
    const torch::Tensor w = torch::randn({s.out, s.in}) * 0.05;  // frozen, as LoRA's base
    const torch::Tensor bias = torch::randn({s.out});
    const torch::Tensor a0 = torch::randn({rank, s.in}) * 0.1;
    const torch::Tensor b0 = torch::randn({s.out, rank}) * 0.1;
    const torch::Tensor dy = torch::randn({2, s.tokens / 2, s.out});
    torch::Tensor x = x0.clone().requires_grad_(true), a = a0.clone().requires_grad_(true),
                  b = b0.clone().requires_grad_(true);
    torch::Tensor rx = x0.clone().requires_grad_(true), ra = a0.clone().requires_grad_(true),
                  rb = b0.clone().requires_grad_(true);
    namespace F = torch::nn::functional;
    const torch::Tensor y = DenseLinearWithLora(x, w, bias, a, b, scaling);
    const torch::Tensor ry = F::linear(rx, w, bias) + F::linear(F::linear(rx, ra), rb) * scaling;
    EXPECT_LT(MaxRelDiff(y, ry), 1e-5);
    (y * dy).sum().backward();
    (ry * dy).sum().backward();
    EXPECT_LT(MaxRelDiff(x.grad(), rx.grad()), 1e-5);
    EXPECT_LT(MaxRelDiff(a.grad(), ra.grad()), 1e-5);
    EXPECT_LT(MaxRelDiff(b.grad(), rb.grad()), 1e-5);
  }
}

TEST(DenseLinearTest, OneDnnOnlyForLargeFp32CpuProducts) {
  const torch::Tensor fp32 = torch::zeros({1});
  EXPECT_FALSE(UsesOneDnn(fp32, 64, 16, 64));
  EXPECT_FALSE(UsesOneDnn(fp32, 64, 576, 1536));  // decoding's few rows through an MLP
  EXPECT_EQ(UsesOneDnn(fp32, 64, 576, 49152), torch::hasMKLDNN());  // its LM head
  EXPECT_FALSE(UsesOneDnn(fp32.to(torch::kBFloat16), 1024, 1024, 1024));
  // The PyPI wheels carry oneDNN; a libtorch without it falls back everywhere.
  EXPECT_EQ(UsesOneDnn(fp32, 1024, 1024, 1024), torch::hasMKLDNN());
}

}  // namespace
}  // namespace tunefleet
