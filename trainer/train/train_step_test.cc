// The optimizer step and the rank's data, on tiny models and datasets: the
// step is the same however the global batch is split into micro-batches,
// LoRA trains adapters only, and a run learns.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "trainer/data/fake_tokenizer.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_test_util.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/train/rank_data.h"
#include "trainer/train/train_step.h"

namespace tunefleet {
namespace {

using testing::MaxAbsDiff;
using testing::TinyConfig;
using testing::TinyModel;

// Four rows of two packed examples each, with some labels masked.
MicroBatch FourRows() {
  MicroBatch b;
  b.rows = 4;
  b.seq_len = 10;
  for (int r = 0; r < b.rows; ++r) {
    for (int t = 0; t < b.seq_len; ++t) {
      const bool first = t < 6;
      b.input_ids.push_back((r * 13 + t * 7) % 64);
      b.segment_ids.push_back(r == 3 && t >= 8 ? kPadSegmentId : (first ? 1 : 2));
      b.position_ids.push_back(first ? t : t - 6);
      const bool last_of_segment = t == 5 || t == 9 || (r == 3 && t >= 7);
      const bool prompt = t < 2;
      b.labels.push_back(last_of_segment || prompt ? kIgnoreLabel : (r * 13 + (t + 1) * 7) % 64);
    }
  }
  for (int64_t l : b.labels) b.loss_tokens += l != kIgnoreLabel;
  return b;
}

// Row r of a batch as a one-row batch.
BatchTensors Row(const BatchTensors& b, int64_t r) {
  BatchTensors row;
  row.input_ids = b.input_ids.slice(0, r, r + 1);
  row.labels = b.labels.slice(0, r, r + 1);
  row.position_ids = b.position_ids.slice(0, r, r + 1);
  row.segment_ids = b.segment_ids.slice(0, r, r + 1);
  row.loss_tokens = row.labels.ne(kIgnoreLabel).sum().item<int64_t>();
  return row;
}

struct Trainer {
  std::shared_ptr<CausalLM> model;
  FlatParameters params;
  AdamW optimizer;
};

Trainer MakeTrainer(std::shared_ptr<CausalLM> model) {
  auto params = FlatParameters::Create(TrainableParameters(*model), IsNoDecayParameter);
  EXPECT_TRUE(params.ok()) << params.status();
  AdamW optimizer(params->values(), 0, params->decay_numel(), AdamWOptions{0.9, 0.999, 1e-8, 0.01});
  return Trainer{std::move(model), std::move(*params), std::move(optimizer)};
}

TEST(TrainStepTest, GradientAccumulationEqualsOneLargeBatch) {
  const BatchTensors whole = ToTensors(FourRows(), torch::kCPU);
  std::vector<BatchTensors> rows;
  for (int64_t r = 0; r < 4; ++r) rows.push_back(Row(whole, r));

  Trainer one = MakeTrainer(TinyModel(TinyConfig()));
  Trainer accumulated = MakeTrainer(TinyModel(TinyConfig()));
  const StepSettings settings{1e-2, 1.0, whole.loss_tokens};
  for (int step = 0; step < 3; ++step) {
    auto a = TrainStep(*one.model, one.params, one.optimizer, {whole}, settings);
    auto b = TrainStep(*accumulated.model, accumulated.params, accumulated.optimizer, rows, settings);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NEAR(MeanLoss(*a, settings), MeanLoss(*b, settings), 1e-5);
    EXPECT_NEAR(a->grad_norm, b->grad_norm, 1e-5);
    // The summed gradients agree to fp32 rounding (the order of the sums differs).
    EXPECT_LT(MaxAbsDiff(one.params.grads(), accumulated.params.grads()), 1e-6);
  }
  // Adam divides by sqrt(v): where a gradient is near zero, rounding-level
  // differences move a weight by a visible fraction of lr (1e-2), so the
  // weights agree to 1e-4 (1% of one step), not to the gradients' 1e-6.
  EXPECT_LT(MaxAbsDiff(one.params.values(), accumulated.params.values()), 1e-4);
}

TEST(TrainStepTest, ClippingBoundsTheGradientButReportsTheRawNorm) {
  Trainer t = MakeTrainer(TinyModel(TinyConfig()));
  const BatchTensors batch = ToTensors(FourRows(), torch::kCPU);
  auto result = TrainStep(*t.model, t.params, t.optimizer, {batch}, StepSettings{1e-3, 1e-3, batch.loss_tokens});
  ASSERT_TRUE(result.ok());
  EXPECT_GT(result->grad_norm, 1e-3);  // reported before clipping
  EXPECT_NEAR(t.params.grads().norm().item<double>(), 1e-3, 1e-6);
}

TEST(TrainStepTest, LoraChangesOnlyTheAdapters) {
  auto model = TinyModel(TinyConfig());
  std::map<std::string, torch::Tensor> before;
  for (const auto& item : model->named_parameters()) before[item.key()] = item.value().detach().clone();
  ASSERT_TRUE(ApplyLora(*model, LoraConfig{}).ok());
  Trainer t = MakeTrainer(model);
  const BatchTensors batch = ToTensors(FourRows(), torch::kCPU);
  for (int step = 0; step < 3; ++step) {
    ASSERT_TRUE(TrainStep(*t.model, t.params, t.optimizer, {batch}, StepSettings{1e-2, 1.0, batch.loss_tokens}).ok());
  }
  int adapters_changed = 0;
  for (const auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& tensor = item.value();
    if (name.find("lora_") != std::string::npos) {
      adapters_changed += name.find("lora_B") != std::string::npos && tensor.abs().sum().item<double>() > 0;
      continue;
    }
    ASSERT_TRUE(before.count(name)) << name;
    EXPECT_TRUE(torch::equal(before[name], tensor)) << name << " changed under LoRA";
  }
  EXPECT_GT(adapters_changed, 0);
}

TEST(TrainStepTest, LossFallsAndEvaluationAgrees) {
  Trainer t = MakeTrainer(TinyModel(TinyConfig()));
  const BatchTensors batch = ToTensors(FourRows(), torch::kCPU);
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    auto r = TrainStep(*t.model, t.params, t.optimizer, {batch}, StepSettings{1e-2, 1.0, batch.loss_tokens});
    ASSERT_TRUE(r.ok());
    (step == 0 ? first : last) = MeanLoss(*r, StepSettings{1e-2, 1.0, batch.loss_tokens});
  }
  EXPECT_LT(last, first / 4);
  auto eval = EvaluateLoss(*t.model, {batch});
  ASSERT_TRUE(eval.ok());
  EXPECT_LT(*eval, first / 4);  // the model after the last step, on the same data
}

// hyperparameters.precision: bf16, as the trainer sets it up: the model cast
// to bf16, then flattened; AdamW keeps fp32 master weights and moments. The
// same tiny overfit as above still learns (bf16 forward, fp32 loss).
TEST(TrainStepTest, Bf16LossFallsWithFp32MasterWeights) {
  auto model = TinyModel(TinyConfig());
  model->to(torch::kBFloat16);
  Trainer t = MakeTrainer(model);
  ASSERT_EQ(t.params.values().scalar_type(), torch::kBFloat16);
  ASSERT_EQ(t.params.grads().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(t.optimizer.master().scalar_type(), torch::kFloat32);
  EXPECT_EQ(t.optimizer.exp_avg().scalar_type(), torch::kFloat32);
  EXPECT_EQ(t.optimizer.state_bytes(), 12 * t.params.padded_numel());
  const BatchTensors batch = ToTensors(FourRows(), torch::kCPU);
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    auto r = TrainStep(*t.model, t.params, t.optimizer, {batch}, StepSettings{1e-2, 1.0, batch.loss_tokens});
    ASSERT_TRUE(r.ok()) << r.status();
    (step == 0 ? first : last) = MeanLoss(*r, StepSettings{1e-2, 1.0, batch.loss_tokens});
  }
  std::printf("bf16 overfit: loss %.4f -> %.4f\n", first, last);
  EXPECT_LT(last, first / 4);
  // The weights are the fp32 master rounded to bf16.
  EXPECT_TRUE(torch::equal(t.params.values(), t.optimizer.master().to(torch::kBFloat16)));
}

TEST(TrainStepTest, Bf16LoraTrainsTheAdapters) {
  auto model = TinyModel(TinyConfig());
  ASSERT_TRUE(ApplyLora(*model, LoraConfig{}).ok());
  model->to(torch::kBFloat16);
  Trainer t = MakeTrainer(model);
  ASSERT_EQ(t.params.values().scalar_type(), torch::kBFloat16);
  const BatchTensors batch = ToTensors(FourRows(), torch::kCPU);
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    auto r = TrainStep(*t.model, t.params, t.optimizer, {batch}, StepSettings{1e-2, 1.0, batch.loss_tokens});
    ASSERT_TRUE(r.ok()) << r.status();
    (step == 0 ? first : last) = MeanLoss(*r, StepSettings{1e-2, 1.0, batch.loss_tokens});
  }
  EXPECT_LT(last, first);
}

class RankDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / "rank_data_test";
    std::filesystem::create_directories(dir_);
    std::ofstream out(dir_ / "train.jsonl");
    for (int i = 0; i < 40; ++i) {
      out << R"({"prompt": "q)" << i << R"(", "completion": " a)" << i * 3 << "\"}\n";
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  v1::JobSpec Spec(int global_batch, int micro) const {
    v1::JobSpec spec;
    spec.mutable_dataset()->set_path((dir_ / "train.jsonl").string());
    spec.mutable_dataset()->set_format(v1::DATASET_FORMAT_PROMPT_COMPLETION);
    spec.mutable_dataset()->set_validation_fraction(0.1);
    auto* hp = spec.mutable_hyperparameters();
    hp->set_sequence_length(32);
    hp->set_global_batch_size(global_batch);
    hp->set_micro_batch_size(micro);
    hp->set_max_steps(5);
    hp->set_seed(11);
    return spec;
  }

  std::filesystem::path dir_;
  FakeTokenizer tokenizer_ = FakeTokenizer::WithAllSpecials();
};

TEST_F(RankDataTest, RanksSplitEachGlobalBatchAndAgreeOnItsTokens) {
  auto whole = RankData::Load(Spec(4, 1), tokenizer_, 0, 1, torch::kCPU);
  auto rank0 = RankData::Load(Spec(4, 1), tokenizer_, 0, 2, torch::kCPU);
  auto rank1 = RankData::Load(Spec(4, 1), tokenizer_, 1, 2, torch::kCPU);
  ASSERT_TRUE(whole.ok() && rank0.ok() && rank1.ok()) << whole.status();
  EXPECT_EQ((*whole)->total_steps(), 5);
  EXPECT_FALSE((*whole)->validation_sets().at(0).empty());
  for (int64_t step = 0; step < 5; ++step) {
    const StepBatches w = (*whole)->ForStep(step), a = (*rank0)->ForStep(step), b = (*rank1)->ForStep(step);
    ASSERT_EQ(w.micro_batches.size(), 4u);
    ASSERT_EQ(a.micro_batches.size(), 2u);
    EXPECT_EQ(w.global_loss_tokens, a.global_loss_tokens);
    EXPECT_EQ(a.global_loss_tokens, b.global_loss_tokens);
    // Rank 0 reads the first half of the global batch, rank 1 the second.
    EXPECT_TRUE(torch::equal(w.micro_batches[0].input_ids, a.micro_batches[0].input_ids));
    EXPECT_TRUE(torch::equal(w.micro_batches[3].input_ids, b.micro_batches[1].input_ids));
    int64_t sum = 0;
    for (const auto& m : w.micro_batches) sum += m.loss_tokens;
    EXPECT_EQ(sum, w.global_loss_tokens);
  }
}

TEST_F(RankDataTest, AGlobalBatchThatRanksCannotSplitIsAnError) {
  auto data = RankData::Load(Spec(3, 1), tokenizer_, 0, 2, torch::kCPU);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument) << data.status();
}

}  // namespace
}  // namespace tunefleet
