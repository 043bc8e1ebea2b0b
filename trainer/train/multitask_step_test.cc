// Multi-task data and steps (dataset.tasks): each rank's rows come from one
// global batch drawn across tasks, the same at any world size and after a
// resume; each task's loss is reported unweighted and its loss_weight scales
// what is optimised.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "trainer/data/fake_tokenizer.h"
#include "trainer/model/lora.h"
#include "trainer/model/loss.h"
#include "trainer/model/model_test_util.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/train/rank_data.h"
#include "trainer/train/train_step.h"

namespace tunefleet {
namespace {

using testing::TinyConfig;
using testing::TinyModel;

class MultiTaskDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / "multitask_data_test";
    std::filesystem::create_directories(dir_);
    std::ofstream qa(dir_ / "qa.jsonl");
    for (int i = 0; i < 30; ++i) qa << R"({"prompt": "q)" << i << R"(", "completion": " a)" << i * 3 << "\"}\n";
    std::ofstream prose(dir_ / "prose.jsonl");
    for (int i = 0; i < 50; ++i) prose << R"({"text": "doc )" << i << std::string(static_cast<size_t>(i % 5), '.') << "\"}\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  v1::JobSpec Spec(int global_batch, int micro) const {
    v1::JobSpec spec;
    v1::DatasetTask* qa = spec.mutable_dataset()->add_tasks();
    qa->set_name("qa");
    qa->set_path((dir_ / "qa.jsonl").string());
    qa->set_validation_fraction(0.2);
    qa->set_loss_weight(2);
    v1::DatasetTask* prose = spec.mutable_dataset()->add_tasks();
    prose->set_name("prose");
    prose->set_path((dir_ / "prose.jsonl").string());
    prose->set_weight(3);
    spec.mutable_dataset()->set_packing(false);  // one example per row: the counts are exact
    auto* hp = spec.mutable_hyperparameters();
    hp->set_sequence_length(32);
    hp->set_global_batch_size(global_batch);
    hp->set_micro_batch_size(micro);
    hp->set_max_steps(20);
    hp->set_seed(5);
    return spec;
  }

  std::unique_ptr<RankData> Load(int global_batch, int micro, int rank, int world) const {
    auto data = RankData::Load(Spec(global_batch, micro), tokenizer_, rank, world, torch::kCPU);
    EXPECT_TRUE(data.ok()) << data.status();
    return data.ok() ? *std::move(data) : nullptr;
  }

  std::filesystem::path dir_;
  FakeTokenizer tokenizer_ = FakeTokenizer::WithAllSpecials();
};

// A step's rows (every micro-batch of every rank given, in rank order) and their tasks.
struct Rows {
  torch::Tensor input_ids;
  torch::Tensor tasks;
};
Rows RowsOf(const std::vector<StepBatches>& ranks) {
  std::vector<torch::Tensor> ids;
  std::vector<torch::Tensor> tasks;
  for (const StepBatches& b : ranks) {
    for (const BatchTensors& m : b.micro_batches) {
      ids.push_back(m.input_ids);
      tasks.push_back(m.row_tasks);
    }
  }
  return {torch::cat(ids), torch::cat(tasks)};
}

TEST_F(MultiTaskDataTest, StaticWeightsSetTheMixAndEveryTaskHasItsValidationSet) {
  auto data = Load(4, 1, 0, 1);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->num_tasks(), 2);
  EXPECT_EQ(data->task_names(), (std::vector<std::string>{"qa", "prose"}));
  EXPECT_NEAR(data->mix_probabilities()[0], 0.25, 1e-12);
  EXPECT_NEAR(data->mix_probabilities()[1], 0.75, 1e-12);
  ASSERT_EQ(data->validation_sets().size(), 2u);
  EXPECT_FALSE(data->validation_sets()[0].empty());  // qa holds 6 of 30 out
  EXPECT_TRUE(data->validation_sets()[1].empty());   // prose has none
  EXPECT_EQ(data->steps_per_epoch(), (24 + 50) / 4);
}

TEST_F(MultiTaskDataTest, GlobalBatchesAndTaskCountsAreTheSameAtWorldSizeOneAndTwo) {
  auto whole = Load(4, 1, 0, 1);
  auto rank0 = Load(4, 2, 0, 2);
  auto rank1 = Load(4, 2, 1, 2);
  ASSERT_TRUE(whole && rank0 && rank1);
  for (int64_t step = 0; step < 12; ++step) {
    const StepBatches w = whole->ForStep(step), a = rank0->ForStep(step), b = rank1->ForStep(step);
    const Rows one = RowsOf({w});
    const Rows two = RowsOf({a, b});
    EXPECT_TRUE(torch::equal(one.input_ids, two.input_ids)) << "step " << step;
    EXPECT_TRUE(torch::equal(one.tasks, two.tasks)) << "step " << step;
    ASSERT_EQ(w.tasks.size(), 2u);
    int64_t examples = 0;
    int64_t loss_tokens = 0;
    for (size_t t = 0; t < 2; ++t) {
      EXPECT_EQ(w.tasks[t].tokens, a.tasks[t].tokens);
      EXPECT_EQ(w.tasks[t].examples, b.tasks[t].examples);
      // Without packing, a task's examples are its rows in the global batch.
      EXPECT_EQ(w.tasks[t].examples, one.tasks.eq(static_cast<int64_t>(t)).sum().item<int64_t>());
      examples += w.tasks[t].examples;
      loss_tokens += w.tasks[t].loss_tokens;
    }
    EXPECT_EQ(examples, 4);
    EXPECT_EQ(loss_tokens, w.global_loss_tokens);
    // Rows carry their task's loss weight: qa 2, prose 1.
    const torch::Tensor weights = w.micro_batches[0].row_loss_weights;
    EXPECT_FLOAT_EQ(weights.item<float>(), w.micro_batches[0].row_tasks.item<int64_t>() == 0 ? 2.0f : 1.0f);
  }
}

TEST_F(MultiTaskDataTest, ResumingAtAnotherWorldSizeContinuesTheSameBatches) {
  auto straight = Load(4, 1, 0, 1);
  ASSERT_NE(straight, nullptr);
  std::vector<Rows> expected;
  std::map<std::string, std::string> saved;
  for (int64_t step = 0; step < 16; ++step) {
    expected.push_back(RowsOf({straight->ForStep(step)}));
    if (step == 6) {
      // A dynamic mix moved at step 7's evaluation; the checkpoint of step 7 holds it.
      ASSERT_TRUE(straight->SetMixProbabilities({0.9, 0.1}).ok());
      saved = straight->SaveDataState(7);
    }
  }
  auto rank0 = Load(4, 1, 0, 2);
  auto rank1 = Load(4, 1, 1, 2);
  ASSERT_TRUE(rank0 && rank1);
  ASSERT_TRUE(rank0->RestoreDataState(saved, 7).ok());
  ASSERT_TRUE(rank1->RestoreDataState(saved, 7).ok());
  EXPECT_NEAR(rank0->mix_probabilities()[0], 0.9, 1e-15);
  for (int64_t step = 7; step < 16; ++step) {
    const Rows resumed = RowsOf({rank0->ForStep(step), rank1->ForStep(step)});
    EXPECT_TRUE(torch::equal(resumed.input_ids, expected[static_cast<size_t>(step)].input_ids)) << "step " << step;
  }
  // A checkpoint of another step, or of a single-dataset job, is refused by name.
  EXPECT_EQ(rank0->RestoreDataState(saved, 8).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(rank0->RestoreDataState({}, 7).code(), absl::StatusCode::kFailedPrecondition);
}

struct Model {
  std::shared_ptr<CausalLM> model;
  FlatParameters params;
  AdamW optimizer;
};

Model MakeModel() {
  torch::manual_seed(3);
  std::shared_ptr<CausalLM> model = TinyModel(TinyConfig());
  auto params = FlatParameters::Create(TrainableParameters(*model), IsNoDecayParameter);
  EXPECT_TRUE(params.ok()) << params.status();
  AdamW optimizer(params->values(), 0, params->decay_numel(), AdamWOptions{0.9, 0.999, 1e-8, 0.0});
  return Model{std::move(model), std::move(*params), std::move(optimizer)};
}

TEST_F(MultiTaskDataTest, LossWeightScalesTheOptimisedLossButNotTheReportedTaskLoss) {
  auto data = Load(4, 4, 0, 1);
  ASSERT_NE(data, nullptr);
  // The first step that draws from both tasks.
  StepBatches batches;
  for (int64_t step = 0; step < data->total_steps(); ++step) {
    batches = data->ForStep(step);
    const torch::Tensor tasks = batches.micro_batches[0].row_tasks;
    if (tasks.eq(0).any().item<bool>() && tasks.eq(1).any().item<bool>()) break;
  }
  ASSERT_EQ(batches.micro_batches.size(), 1u);
  ASSERT_TRUE(batches.tasks[0].loss_tokens > 0 && batches.tasks[1].loss_tokens > 0);
  BatchTensors weighted = batches.micro_batches[0];
  // The fake tokenizer's ids (bytes, specials past 255) folded into the tiny model's vocabulary.
  const int64_t vocab = TinyConfig().vocab_size;
  weighted.input_ids = weighted.input_ids.remainder(vocab);
  weighted.labels = torch::where(weighted.labels.eq(kIgnoreLabel), weighted.labels, weighted.labels.remainder(vocab));
  BatchTensors plain = weighted;
  plain.row_loss_weights = torch::ones_like(weighted.row_loss_weights);
  const StepSettings settings{0.0, 0.0, batches.global_loss_tokens, 2};  // lr 0: the model stays put

  Model a = MakeModel();
  auto w = TrainStep(*a.model, a.params, a.optimizer, {weighted}, settings);
  ASSERT_TRUE(w.ok()) << w.status();
  const torch::Tensor weighted_grads = a.params.grads().clone();
  Model b = MakeModel();
  auto p = TrainStep(*b.model, b.params, b.optimizer, {plain}, settings);
  ASSERT_TRUE(p.ok()) << p.status();

  // Per task, unweighted, identical; the plain sum is the plain loss.
  EXPECT_TRUE(torch::allclose(w->task_loss_sums, p->task_loss_sums));
  const double qa = p->task_loss_sums[0].item<double>();
  const double prose = p->task_loss_sums[1].item<double>();
  EXPECT_NEAR(p->loss_sum.item<double>(), qa + prose, 1e-3);
  // The optimised loss counts qa twice (loss_weight 2).
  EXPECT_NEAR(w->loss_sum.item<double>(), 2 * qa + prose, 1e-3);
  EXPECT_GT(qa, 0);
  // The plain multi-task loss equals the single-dataset loss of the same rows.
  torch::NoGradGuard no_grad;
  const LossOutput reference =
      ComputeLoss(b.model->Forward(plain.input_ids, plain.position_ids, plain.segment_ids), plain.labels);
  EXPECT_NEAR(reference.sum.item<double>(), qa + prose, 1e-3);
  // And the gradients differ: the weight reached the backward pass.
  EXPECT_FALSE(torch::allclose(weighted_grads, b.params.grads()));
}

}  // namespace
}  // namespace tunefleet
