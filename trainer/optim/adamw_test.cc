#include "trainer/optim/adamw.h"

#include <gtest/gtest.h>

#include "trainer/optim/grad_clip.h"

namespace tunefleet {
namespace {

// Our flat-range AdamW must follow torch.optim.AdamW step for step; the
// decay prefix gets weight decay, the rest does not.
TEST(AdamW, MatchesTorchAdamWWithDecayPrefix) {
  torch::manual_seed(1);
  const int64_t n = 64, decay_end = 40;
  torch::Tensor flat = torch::randn({n});
  torch::Tensor ref_decay = flat.narrow(0, 0, decay_end).clone().requires_grad_(true);
  torch::Tensor ref_plain = flat.narrow(0, decay_end, n - decay_end).clone().requires_grad_(true);
  torch::optim::AdamW ref_decay_opt({ref_decay}, torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  torch::optim::AdamW ref_plain_opt({ref_plain}, torch::optim::AdamWOptions(1e-2).weight_decay(0.0));

  AdamW ours(flat, 0, decay_end, AdamWOptions{0.9, 0.999, 1e-8, 0.1});
  for (int step = 0; step < 5; ++step) {
    torch::Tensor grad = torch::randn({n});
    ref_decay.mutable_grad() = grad.narrow(0, 0, decay_end).clone();
    ref_plain.mutable_grad() = grad.narrow(0, decay_end, n - decay_end).clone();
    ref_decay_opt.step();
    ref_plain_opt.step();
    ours.Step(grad, 1e-2);
  }
  EXPECT_TRUE(torch::allclose(flat.narrow(0, 0, decay_end), ref_decay, 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(flat.narrow(0, decay_end, n - decay_end), ref_plain, 1e-6, 1e-7));
  EXPECT_EQ(ours.step_count(), 5);
  EXPECT_EQ(ours.state_bytes(), 2 * n * 4);  // fp32 model: master aliases the params
}

TEST(AdamW, Bf16ParamsKeepFp32Master) {
  torch::Tensor params = torch::ones({8}, torch::kBFloat16);
  AdamW opt(params, 0, 8, AdamWOptions{});
  opt.Step(torch::ones({8}, torch::kBFloat16), 1e-3);
  EXPECT_EQ(opt.master().scalar_type(), torch::kFloat32);
  EXPECT_EQ(opt.state_bytes(), 3 * 8 * 4);
  EXPECT_NEAR(opt.master()[0].item<float>(), 1.0f - 1e-3f, 1e-6);
}

TEST(GradClip, ScalesToMaxNorm) {
  torch::Tensor g = torch::full({4}, 3.0f);  // norm 6
  const double norm = std::sqrt(SumOfSquares(g));
  EXPECT_DOUBLE_EQ(norm, 6.0);
  // The update clips an fp32 gradient in place, as clip_grad_norm_ does.
  AdamW opt(torch::zeros({4}), 0, 0, AdamWOptions{});
  opt.Step(g, /*lr=*/0.0, ClipFactor(norm, 1.5));
  EXPECT_NEAR(std::sqrt(SumOfSquares(g)), 1.5, 1e-5);
  EXPECT_DOUBLE_EQ(ClipFactor(0.2, 1.0), 1.0);
}

}  // namespace
}  // namespace tunefleet
