// The ZeRO optimizer, ranks as threads: stages 0-2 at N = 2 and 3 give the
// single-process AdamW's weights; state is 1/N per rank, and so is the
// gradient at stage 2; stages 1-2 send a reduce-scatter and an all-gather;
// and a bucket's reduction starts while backward still has gradients to
// produce.

#include "trainer/dist/zero_optimizer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "trainer/dist/dist_test_util.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_test_util.h"
#include "trainer/optim/grad_clip.h"

namespace tunefleet {
namespace {

using testing::RunRanks;

constexpr int kSteps = 3;
constexpr int kMicro = 2;

// Three parameters (49 elements: no N in {2, 3} divides it, so padding is
// exercised), one of them without weight decay.
// Its own generator: ranks are threads, and draws from the global one would
// interleave between them, giving each rank different starting weights.
std::vector<std::pair<std::string, torch::Tensor>> MakeParams() {
  auto gen = at::detail::createCPUGenerator(5);
  return {{"a.weight", torch::randn({7, 5}, gen).requires_grad_()},
          {"norm.weight", torch::randn({3}, gen).requires_grad_()},
          {"b.weight", torch::randn({11}, gen).requires_grad_()}};
}

bool NoDecay(const std::string& name) { return name.find("norm") != std::string::npos; }

// The loss of rank r's micro-batch m at step s: different data everywhere.
torch::Tensor Loss(const std::vector<std::pair<std::string, torch::Tensor>>& params, int step, int rank, int micro) {
  torch::Tensor total = torch::zeros({});
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto gen = at::detail::createCPUGenerator(1000 * step + 100 * rank + 10 * micro + i);
    torch::Tensor x = torch::randn(params[i].second.sizes(), gen);
    total = total + (params[i].second * x).sin().sum() + 0.1 * (params[i].second * params[i].second * x).sum();
  }
  return total;
}

AdamWOptions Options() { return AdamWOptions{0.9, 0.999, 1e-8, 0.1}; }

// Single process: every rank's micro-batches accumulated into one gradient.
torch::Tensor Reference(int world) {
  auto params = MakeParams();
  auto flat = FlatParameters::Create(params, NoDecay);
  EXPECT_TRUE(flat.ok());
  LocalAdamW adamw(*flat, Options());
  for (int step = 0; step < kSteps; ++step) {
    flat->ZeroGrads();
    for (int r = 0; r < world; ++r) {
      for (int m = 0; m < kMicro; ++m) Loss(params, step, r, m).backward();
    }
    auto norm = adamw.FinishGradients();
    EXPECT_TRUE(norm.ok());
    EXPECT_TRUE(adamw.Update(1e-2, /*max_grad_norm=*/2.0, *norm).ok());
  }
  return flat->values().narrow(0, 0, flat->numel()).clone();
}

struct Case {
  int world;
  int stage;
};

class ZeroOptimizerTest : public ::testing::TestWithParam<Case> {};

TEST_P(ZeroOptimizerTest, MatchesSingleProcessAndShardsState) {
  const auto [world, stage] = GetParam();
  const torch::Tensor expected = Reference(world);
  std::vector<torch::Tensor> results(world);
  std::vector<int64_t> state_bytes(world);
  std::vector<double> norms(world);
  std::vector<int64_t> grad_bytes(world), peak_staging(world), max_bucket(world), ideal(world);
  RunRanks(world, [&](int rank, Collectives& c) {
    auto params = MakeParams();
    auto flat = FlatParameters::Create(params, NoDecay, world);
    ASSERT_TRUE(flat.ok());
    ZeroOptions options{stage, /*bucket_bytes=*/64, Options()};
    auto zero = ZeroOptimizer::Create(c, *flat, params, options);
    ASSERT_TRUE(zero.ok()) << zero.status();
    for (int step = 0; step < kSteps; ++step) {
      flat->ZeroGrads();
      for (int m = 0; m < kMicro; ++m) {
        (*zero)->BeginBackward(m + 1 == kMicro);
        Loss(params, step, rank, m).backward();
      }
      auto norm = (*zero)->FinishGradients();
      ASSERT_TRUE(norm.ok()) << norm.status();
      norms[rank] = *norm;
      ASSERT_TRUE((*zero)->Update(1e-2, 2.0, *norm).ok());
    }
    grad_bytes[rank] = (*zero)->gradient_bytes();
    peak_staging[rank] = (*zero)->peak_staging_bytes();
    for (const GradBucket& b : (*zero)->buckets().buckets()) {
      max_bucket[rank] = std::max(max_bucket[rank], 4 * (b.end - b.begin));
    }
    ideal[rank] = c.stats().ideal_bytes;
    results[rank] = flat->values().narrow(0, 0, flat->numel()).clone();
    state_bytes[rank] = (*zero)->state_bytes();
    // Padding stays zero: it has no gradient and no weight decay.
    EXPECT_EQ(flat->values().narrow(0, flat->numel(), flat->padded_numel() - flat->numel()).abs().sum().item<float>(),
              0.0f);
  });
  const int64_t padded = (49 + world - 1) / world * world;
  for (int r = 0; r < world; ++r) {
    // fp32 sums in another order: a few ulps after 3 steps at lr 1e-2.
    EXPECT_LT(testing::MaxAbsDiff(results[r], expected), 1e-6) << "rank " << r;
    EXPECT_NEAR(norms[r], norms[0], 1e-6);
    // fp32 master weights alias the parameters: two moments, 8 bytes each element.
    EXPECT_EQ(state_bytes[r], stage == 0 ? 8 * padded : 8 * padded / world) << "rank " << r;
    // Gradients after the step, from the tensors: stage 2 keeps its shard's
    // fp32 sum only; the staging buffers were at most kStagingWindow buckets.
    if (stage == 2) {
      EXPECT_EQ(grad_bytes[r], 4 * padded / world) << "rank " << r;
      EXPECT_GT(peak_staging[r], 0);
      EXPECT_LE(peak_staging[r], ZeroOptimizer::kStagingWindow * max_bucket[r]);
    } else {
      EXPECT_EQ(grad_bytes[r], 4 * padded) << "rank " << r;
      EXPECT_EQ(peak_staging[r], 0);
    }
    // Stages 1-2 per step: a reduce-scatter (every piece but this rank's)
    // and an all-gather, (N-1)/N of the gradient bytes each, plus the
    // norm's all-reduced double.
    if (stage > 0) {
      const int64_t g = 4 * padded;
      EXPECT_EQ(ideal[r], kSteps * (2 * (g - g / world) + 2 * (8 * (world - 1) / world))) << "rank " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Stages, ZeroOptimizerTest,
                         ::testing::Values(Case{2, 0}, Case{2, 1}, Case{2, 2}, Case{3, 0}, Case{3, 1}, Case{3, 2}),
                         [](const auto& param_info) {
                           return "N" + std::to_string(param_info.param.world) + "Stage" +
                                  std::to_string(param_info.param.stage);
                         });

TEST(GradBucketsTest, FirstBucketReducesBeforeBackwardEnds) {
  RunRanks(1, [&](int, Collectives& c) {
    auto model = testing::TinyModel(testing::TinyConfig());
    auto params = TrainableParameters(*model);
    auto flat = FlatParameters::Create(params, IsNoDecayParameter, 1);
    ASSERT_TRUE(flat.ok());
    ZeroOptions options{1, /*bucket_bytes=*/16 << 10, Options()};
    auto zero = ZeroOptimizer::Create(c, *flat, params, options);
    ASSERT_TRUE(zero.ok()) << zero.status();
    const auto& buckets = (*zero)->buckets().buckets();
    ASSERT_GT(buckets.size(), 2u);
    // Buckets tile the buffer exactly.
    int64_t covered = 0;
    for (const auto& b : buckets) covered += b.end - b.begin;
    EXPECT_EQ(covered, flat->padded_numel());

    torch::Tensor ids = testing::RandomIds(2, 16, 64, 3);
    torch::Tensor logits = model->Forward(ids, testing::Positions(2, 16), torch::ones_like(ids));
    (*zero)->BeginBackward(true);
    logits.square().mean().backward();
    const BucketTrace during = (*zero)->buckets().trace();
    ASSERT_TRUE((*zero)->FinishGradients().ok());
    // The first launch happened from a gradient hook while other parameters'
    // gradients were still to be computed: communication overlapped backward.
    EXPECT_GT(during.pending_at_first_launch, 0);
    EXPECT_LT(during.pending_at_first_launch, during.total_params);
    EXPECT_EQ(during.launched_during_backward, static_cast<int>(buckets.size()));
    EXPECT_EQ(during.launched_after_backward, 0);

    // An unarmed backward (a micro-batch before the last) launches nothing.
    flat->ZeroGrads();
    torch::Tensor again = model->Forward(ids, testing::Positions(2, 16), torch::ones_like(ids));
    (*zero)->BeginBackward(false);
    again.square().mean().backward();
    EXPECT_EQ((*zero)->buckets().trace().launched_during_backward, static_cast<int>(buckets.size()));
    EXPECT_EQ(c.stats().operations, static_cast<int64_t>(buckets.size()));
  });
}

}  // namespace
}  // namespace tunefleet
