// The checkpointer's cadence, and its state round trip through the
// optimizer's own SaveState/LoadState: saved at step 2, trained on, resumed,
// the weights and optimizer state are those of step 2 again.

#include "trainer/train/run_checkpointer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "trainer/model/model_test_util.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/optimizer.h"

namespace tunefleet {
namespace {

using testing::TinyConfig;
using testing::TinyModel;

std::string FreshDirectory() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string dir =
      std::filesystem::temp_directory_path().string() + "/tunefleet_run_checkpointer_" + info->name();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Parts {
  std::shared_ptr<CausalLM> model = TinyModel(TinyConfig());
  FlatParameters params = *FlatParameters::Create(TrainableParameters(*model), IsNoDecayParameter);
  LocalAdamW optimizer{params, AdamWOptions{}};
  std::unique_ptr<MetricsStream> metrics = *MetricsStream::Open("", 0);
};

RunCheckpointerOptions Cadence(const std::string& directory, int rank = 0) {
  RunCheckpointerOptions options;
  options.directory = directory;
  options.identity.job = "job";
  options.async_save = false;
  options.interval_steps = 3;
  options.total_steps = 10;
  options.rank = rank;
  return options;
}

TEST(RunCheckpointerTest, SavesOnItsCadenceAndOnRequest) {
  Parts p;
  RunCheckpointer on(Cadence(FreshDirectory()), *p.model, p.params, p.optimizer, *p.metrics);
  ASSERT_TRUE(on.enabled());
  for (int64_t step = 1; step <= 10; ++step) {
    EXPECT_EQ(on.ShouldSave(step, false), step % 3 == 0 || step == 10) << step;
    EXPECT_TRUE(on.ShouldSave(step, true)) << step;
  }
  EXPECT_FALSE(on.SaveDueByClock());  // no interval_seconds

  RunCheckpointer off(Cadence(""), *p.model, p.params, p.optimizer, *p.metrics);
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.ShouldSave(3, true));
  EXPECT_FALSE(off.SaveDueByClock());
  EXPECT_EQ(*off.Resume(), 0);
  EXPECT_TRUE(off.Finish().ok());
}

TEST(RunCheckpointerTest, OnlyRankZerosClockCallsForASave) {
  Parts p;
  RunCheckpointerOptions options = Cadence(FreshDirectory(), /*rank=*/1);
  options.interval_seconds = 1;
  RunCheckpointer rank1(options, *p.model, p.params, p.optimizer, *p.metrics);
  EXPECT_FALSE(rank1.SaveDueByClock());
}

TEST(RunCheckpointerTest, ResumeRestoresWeightsAndOptimizerState) {
  const std::string dir = FreshDirectory();
  Parts p;
  auto step_once = [&p] {
    torch::NoGradGuard no_grad;
    p.params.grads().copy_(torch::randn_like(p.params.grads()));
    ASSERT_TRUE(p.optimizer.Update(1e-2, 0, 1).ok());
  };
  step_once();
  step_once();
  {
    RunCheckpointer saver(Cadence(dir), *p.model, p.params, p.optimizer, *p.metrics);
    ASSERT_TRUE(saver.Save(2, 1.0).ok());
    ASSERT_TRUE(saver.Finish().ok());
  }
  const torch::Tensor weights = p.params.values().clone();
  const torch::Tensor moments = p.optimizer.adamw().exp_avg().clone();
  step_once();
  ASSERT_FALSE(torch::equal(weights, p.params.values()));

  RunCheckpointer resumer(Cadence(dir), *p.model, p.params, p.optimizer, *p.metrics);
  auto step = resumer.Resume();
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(*step, 2);
  EXPECT_TRUE(torch::equal(weights, p.params.values()));
  EXPECT_TRUE(torch::equal(moments, p.optimizer.adamw().exp_avg()));
  EXPECT_EQ(p.optimizer.adamw().step_count(), 2);
}

}  // namespace
}  // namespace tunefleet
