// tunefleet's model, training step and exports against transformers/PEFT
// (issue 17, items 2 and 3), on CPU in fp32, for tiny random models of every
// architecture the trainer accepts (hf_reference.py's tiny_configs: llama
// tied and untied with bias and llama3 rope, qwen2, qwen3 with and without
// bias, mistral). The CTest fixture model_equality_reference ran
// `hf_reference.py all` into kWork first: the models (save_pretrained,
// safetensors) and transformers' logits, losses, gradients and AdamW updates.
//
//  * Logits: padded rows (left and right) and packed rows (positions
//    restarting per document) equal transformers' within 1e-4 of the logit
//    scale (max |logit|).
//  * Steps: two optimizer steps (the first of two micro-batches), full
//    fine-tuning and LoRA from the same adapter: loss, gradient norm, every
//    (clipped) gradient and every updated weight equal torch's AdamW.
//  * Exports: a full export loads with AutoModelForCausalLM and greedy-
//    generates our tokens; a PEFT adapter export loads with
//    PeftModel.from_pretrained and gives our (merged and unmerged) logits.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/reference/model/hf_reference.h"
#include "tests/testing/child_process.h"
#include "trainer/eval/generation.h"
#include "trainer/hf_io/hf_model_export.h"
#include "trainer/hf_io/hf_model_loader.h"
#include "trainer/model/lora.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/train/train_step.h"

namespace tunefleet {
namespace {

using testing::CompareLogits;
using testing::HfReference;
using testing::MaxAbsDiff;
using testing::ReadHfReference;
using testing::RunHfReference;

const std::string kWork = TUNEFLEET_BINARY_DIR "/tests/reference/model/work";
const std::vector<std::string> kModels = {"llama", "llama3_bias", "qwen2", "qwen3", "qwen3_bias", "mistral"};

std::string ModelDir(const std::string& name) { return kWork + "/models/" + name; }
std::string ReferenceDir(const std::string& name, const std::string& what) {
  return kWork + "/reference/" + name + "/" + what;
}

HfReference MustRead(const std::string& dir) {
  auto ref = ReadHfReference(dir);
  if (!ref.ok()) {
    ADD_FAILURE() << ref.status()
                  << "\n(the CTest fixture model_equality_reference writes it: run through ctest, or run "
                     ".venv/bin/python tests/reference/model/hf_reference.py all "
                  << kWork << ")";
    return {};
  }
  return *std::move(ref);
}

std::shared_ptr<CausalLM> MustLoad(const std::string& dir) {
  auto model = LoadHfModel(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

class ModelEqualityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelEqualityTest, LogitsEqualTransformers) {
  const HfReference ref = MustRead(ReferenceDir(GetParam(), "logits"));
  ASSERT_FALSE(ref.tensors.empty());
  auto model = MustLoad(ModelDir(GetParam()));
  ASSERT_NE(model, nullptr);
  const testing::LogitsComparison c = CompareLogits(*model, ref);
  std::printf("%s: max |diff| %.3g, max |logit| %.3g, relative %.3g\n", GetParam().c_str(), c.max_abs_diff,
              c.max_abs_logit, c.relative());
  EXPECT_GT(c.max_abs_logit, 0.5);  // not a degenerate model
  EXPECT_LE(c.relative(), 1e-4);

  // The plain causal path (no segment ids: flash attention's is_causal) on
  // the unpadded row.
  torch::NoGradGuard no_grad;
  const torch::Tensor row0 =
      model->Forward(ref.at("input_ids").slice(0, 0, 1), ref.at("position_ids").slice(0, 0, 1));
  EXPECT_LE(MaxAbsDiff(row0, ref.at("logits").slice(0, 0, 1)), 1e-4 * c.max_abs_logit);
}

// The entry point for other models (a real checkpoint, a GGUF import), on
// one of ours.
TEST(CompareWithTransformersTest, RunsTheReferenceOnAnyDirectory) {
  auto model = MustLoad(ModelDir("qwen3"));
  ASSERT_NE(model, nullptr);
  auto c = testing::CompareWithTransformers(*model, ModelDir("qwen3"), kWork + "/any_directory");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_LE(c->relative(), 1e-4);
}

// Two optimizer steps as reference.json's settings say, compared with torch
// after each. Leaves the trained model in `out` (for the export test).
struct StepWorst {
  double grad = 0;        // step 0: max |diff| / max |reference grad|, over tensors
  double later_grad = 0;  // the same at later steps (from weights that differ by rounding)
  double optimizer = 0;   // our AdamW on torch's gradients: max |weight diff| / lr
  double param = 0;       // end to end, well-conditioned elements: max |weight diff| / lr
  double any_param = 0;   // end to end, every element: max |weight diff| / lr
};

BatchTensors Micro(const HfReference& ref, int step, int micro) {
  const std::string p = "step" + std::to_string(step) + ".micro" + std::to_string(micro) + ".";
  BatchTensors b;
  b.input_ids = ref.at(p + "input_ids");
  b.position_ids = ref.at(p + "position_ids");
  b.segment_ids = ref.at(p + "segment_ids");
  b.labels = ref.at(p + "labels");
  b.real_tokens = b.segment_ids.ne(0).sum().item<int64_t>();
  b.loss_tokens = b.labels.ne(-100).sum().item<int64_t>();
  return b;
}

LoraConfig LoraOf(const nlohmann::json& settings) {
  LoraConfig lora;
  lora.rank = settings.at("lora_rank").get<int64_t>();
  lora.alpha = settings.at("lora_alpha").get<double>();
  lora.dropout = 0.0;
  lora.target_modules = settings.at("lora_targets").get<std::vector<std::string>>();
  return lora;
}

void RunAndCompareSteps(const std::string& name, const std::string& mode, std::shared_ptr<CausalLM>& out,
                        StepWorst& worst) {
  const std::string dir = ReferenceDir(name, "step_" + mode);
  const HfReference ref = MustRead(dir);
  ASSERT_FALSE(ref.tensors.empty());
  const nlohmann::json& settings = ref.json.at("settings");
  out = MustLoad(ModelDir(name));
  ASSERT_NE(out, nullptr);
  CausalLM& model = *out;
  if (mode == "lora") {
    // PEFT's own save of the adapter both sides start from (B nonzero, so
    // A's gradient is not zero).
    ASSERT_TRUE(LoadPeftAdapter(model, dir + "/adapter_init").ok());
  }
  auto params = FlatParameters::Create(TrainableParameters(model), IsNoDecayParameter);
  ASSERT_TRUE(params.ok()) << params.status();
  std::set<std::string> ours, theirs;
  for (const FlatParameterSlot& slot : params->slots()) ours.insert(slot.name);
  for (const auto& [tensor_name, t] : ref.tensors) {
    if (tensor_name.rfind("step0.grad.", 0) == 0) theirs.insert(tensor_name.substr(11));
  }
  ASSERT_EQ(ours, theirs) << "trainable parameters differ";

  AdamW adamw(params->values(), 0, params->decay_numel(),
              AdamWOptions{settings.at("beta1").get<double>(), settings.at("beta2").get<double>(),
                           settings.at("epsilon").get<double>(), settings.at("weight_decay").get<double>()});
  LrSchedule schedule;
  schedule.peak_lr = settings.at("peak_lr").get<double>();
  schedule.warmup_steps = settings.at("warmup_steps").get<int64_t>();
  schedule.total_steps = settings.at("total_steps").get<int64_t>();
  schedule.min_lr_ratio = settings.at("min_lr_ratio").get<double>();
  schedule.kind = v1::LR_SCHEDULE_COSINE;

  // Adam divides by sqrt(v) + eps: where a gradient element is at the level
  // of the fp32 noise of the largest ones, the two sides' tiny differences
  // become lr-sized differences in the update (even its sign). So the update
  // is checked twice: our AdamW fed torch's own gradients must give torch's
  // weights (the formula: bias correction, eps placement, decoupled decay,
  // the no-decay group); and end to end, elements whose gradient was at every step
  // >= 1% of the tensor's largest must match, the rest stay within Adam's
  // bound on a step.
  torch::Tensor oracle_values = params->values().detach().clone();
  AdamW oracle(oracle_values, 0, params->decay_numel(),
               AdamWOptions{settings.at("beta1").get<double>(), settings.at("beta2").get<double>(),
                            settings.at("epsilon").get<double>(), settings.at("weight_decay").get<double>()});
  std::map<std::string, torch::Tensor> conditioned;
  const auto& steps = ref.json.at("steps");
  for (int s = 0; s < static_cast<int>(steps.size()); ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    const auto& expect = steps[s];
    std::vector<BatchTensors> micro;
    for (int m = 0; m < expect.at("micro_batches").get<int>(); ++m) micro.push_back(Micro(ref, s, m));
    StepSettings step;
    step.learning_rate = schedule.At(s);
    EXPECT_NEAR(step.learning_rate, expect.at("lr").get<double>(), 1e-12);
    step.max_grad_norm = settings.at("max_grad_norm").get<double>();
    step.global_loss_tokens = expect.at("global_loss_tokens").get<int64_t>();
    auto result = TrainStep(model, *params, adamw, micro, step);
    ASSERT_TRUE(result.ok()) << result.status();
    const double loss = expect.at("loss").get<double>();
    const double norm = expect.at("grad_norm").get<double>();
    EXPECT_NEAR(MeanLoss(*result, step), loss, 1e-5 * loss);
    EXPECT_NEAR(result->grad_norm, norm, 1e-5 * norm);
    EXPECT_GT(norm, step.max_grad_norm);  // clipping is exercised
    const std::string p = "step" + std::to_string(s) + ".";
    torch::Tensor ref_flat_grad = torch::zeros_like(oracle_values);
    for (const FlatParameterSlot& slot : params->slots()) {
      ref_flat_grad.narrow(0, slot.offset, slot.numel).copy_(ref.at(p + "grad." + slot.name).reshape({-1}));
    }
    oracle.Step(ref_flat_grad, step.learning_rate);
    const double lr = step.learning_rate;
    for (const FlatParameterSlot& slot : params->slots()) {
      // fp32: the flat gradient is clipped in place, as torch's clip_grad_norm_.
      const torch::Tensor grad = params->grads().narrow(0, slot.offset, slot.numel).view(slot.shape);
      const torch::Tensor& ref_grad = ref.at(p + "grad." + slot.name);
      const double scale = ref_grad.abs().max().item<double>();
      const double grad_diff = MaxAbsDiff(grad, ref_grad);
      // After step 0 both sides start from weights that differ where Adam
      // amplified rounding (see above), so later gradients get more room.
      EXPECT_LE(grad_diff, (s == 0 ? 1e-4 : 1e-3) * scale + 1e-9) << slot.name;
      double& worst_grad = s == 0 ? worst.grad : worst.later_grad;
      worst_grad = std::max(worst_grad, scale > 0 ? grad_diff / scale : grad_diff);

      const torch::Tensor& ref_value = ref.at(p + "param." + slot.name);
      const torch::Tensor from_oracle = oracle_values.narrow(0, slot.offset, slot.numel).view(slot.shape);
      const double oracle_diff = MaxAbsDiff(from_oracle, ref_value) / lr;
      EXPECT_LE(oracle_diff, 1e-4) << slot.name;
      worst.optimizer = std::max(worst.optimizer, oracle_diff);

      const torch::Tensor strong = ref_grad.abs() >= 1e-2 * scale;
      torch::Tensor& mask = conditioned[slot.name];
      mask = mask.defined() ? mask.logical_and(strong) : strong;
      const torch::Tensor value = params->values().narrow(0, slot.offset, slot.numel).view(slot.shape);
      const torch::Tensor diff = (value.to(torch::kFloat64) - ref_value.to(torch::kFloat64)).abs() / lr;
      const double strong_diff = diff.index({mask}).numel() ? diff.index({mask}).max().item<double>() : 0.0;
      const double any_diff = diff.max().item<double>();
      EXPECT_LE(strong_diff, 1e-3) << slot.name;
      EXPECT_LE(any_diff, 2.5 * (s + 1)) << slot.name;
      worst.param = std::max(worst.param, strong_diff);
      worst.any_param = std::max(worst.any_param, any_diff);
    }
  }
}

void PrintWorst(const std::string& what, const StepWorst& w) {
  std::printf(
      "%s: worst gradient %.3g of its tensor's largest (%.3g after step 0); weights, in units of lr: AdamW "
      "on torch's gradients "
      "%.3g, end to end %.3g (gradient >= 1%% of largest), %.3g (any element)\n",
      what.c_str(), w.grad, w.later_grad, w.optimizer, w.param, w.any_param);
}

TEST_P(ModelEqualityTest, FullFineTuningStepsEqualTorch) {
  std::shared_ptr<CausalLM> model;
  StepWorst worst;
  RunAndCompareSteps(GetParam(), "full", model, worst);
  PrintWorst(GetParam() + " full", worst);
}

TEST_P(ModelEqualityTest, LoraStepsEqualPeft) {
  std::shared_ptr<CausalLM> model;
  StepWorst worst;
  RunAndCompareSteps(GetParam(), "lora", model, worst);
  PrintWorst(GetParam() + " lora", worst);
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ModelEqualityTest, ::testing::ValuesIn(kModels),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// Trains each model (both ways) as above, exports it, and has transformers
// and PEFT load the exports in one Python run.
TEST(ModelExportTest, ExportsLoadInTransformersAndPeft) {
  const std::string out = kWork + "/exports";
  std::filesystem::remove_all(out);
  const std::vector<int32_t> prompt = {5, 17, 33, 9, 41};
  const int new_tokens = 12;
  nlohmann::json jobs = nlohmann::json::array();
  std::map<std::string, std::vector<int32_t>> generated;
  std::map<std::string, std::shared_ptr<CausalLM>> lora_models;
  for (const std::string& name : kModels) {
    SCOPED_TRACE(name);
    StepWorst worst;
    std::shared_ptr<CausalLM> full;
    RunAndCompareSteps(name, "full", full, worst);
    ASSERT_NE(full, nullptr);
    const std::string full_dir = out + "/" + name + "/full";
    ASSERT_TRUE(ExportHfModel(*full, ModelDir(name), full_dir).ok());
    generated[name] = GreedyGenerate(*full, prompt, new_tokens, /*stop_ids=*/{});

    std::shared_ptr<CausalLM> lora;
    RunAndCompareSteps(name, "lora", lora, worst);
    ASSERT_NE(lora, nullptr);
    const HfReference step_ref = MustRead(ReferenceDir(name, "step_lora"));
    const std::string peft_dir = out + "/" + name + "/peft";
    ASSERT_TRUE(
        ExportPeftAdapter(*lora, LoraOf(step_ref.json.at("settings")), ModelDir(name), peft_dir).ok());
    lora_models[name] = lora;
    jobs.push_back({{"name", name},
                    {"base", ModelDir(name)},
                    {"full", full_dir},
                    {"peft", peft_dir},
                    {"inputs", ReferenceDir(name, "logits") + "/reference.safetensors"},
                    {"out", out + "/" + name + "/reference"},
                    {"prompt", prompt},
                    {"new_tokens", new_tokens}});
  }
  std::ofstream(out + "/jobs.json") << jobs.dump(1);
  const absl::Status exports = RunHfReference({"exports", out + "/jobs.json"});
  ASSERT_TRUE(exports.ok()) << exports;

  for (const std::string& name : kModels) {
    SCOPED_TRACE(name);
    const HfReference ref = MustRead(out + "/" + name + "/reference");
    ASSERT_FALSE(ref.tensors.empty());
    EXPECT_EQ(ref.json.at("generated").get<std::vector<int32_t>>(), generated[name]);
    CausalLM& model = *lora_models[name];
    const testing::LogitsComparison unmerged = CompareLogits(model, ref);
    EXPECT_LE(unmerged.relative(), 1e-4);
    MergeLora(model);
    const testing::LogitsComparison merged = CompareLogits(model, ref);
    EXPECT_LE(merged.relative(), 1e-4);
    std::printf("%s: PEFT adapter logits vs ours: relative %.3g unmerged, %.3g merged\n", name.c_str(),
                unmerged.relative(), merged.relative());
  }
}

// The CLI end to end: the bundled demo model (real tokenizer), exported by
// ExportHfModel, evaluated by `tunefleet-trainer evaluate`; transformers'
// generate() on the same export, with `tokenizers` to encode and decode,
// gives the same replies.
TEST(ModelExportTest, EvaluateRepliesEqualTransformersGenerate) {
  const std::string out = kWork + "/evaluate";
  std::filesystem::remove_all(out);
  const std::string demo = TUNEFLEET_SOURCE_DIR "/demo/base_model";
  auto model = MustLoad(demo);
  ASSERT_NE(model, nullptr);
  ASSERT_TRUE(ExportHfModel(*model, demo, out + "/model").ok());
  const std::vector<std::string> prompts = {"12 + 34 =", "7 + 8 =", "100 + 23 ="};  // evaluate shows 3
  {
    std::ofstream data(out + "/data.jsonl");
    for (const std::string& p : prompts)
      data << nlohmann::json{{"prompt", p}, {"completion", "0"}}.dump() << "\n";
    std::ofstream(out + "/prompts.json") << nlohmann::json(prompts).dump();
  }
  const testing::RunResult eval = testing::RunCommand(
      {TUNEFLEET_BINARY_DIR "/trainer/tunefleet-trainer", "evaluate", "--model", out + "/model", "--data",
       out + "/data.jsonl", "--chat-template", "none", "--max-new-tokens", "12", "--stop", "\n"});
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  std::vector<std::string> ours;
  std::istringstream lines(eval.output);
  for (std::string line; std::getline(lines, line);) {
    const size_t at = line.find("  got: ");
    if (line.rfind("  Q: ", 0) == 0 && at != std::string::npos) ours.push_back(line.substr(at + 7));
  }
  const absl::Status generated =
      RunHfReference({"generate", out + "/model", out + "/prompts.json", out + "/replies.json",
                      "--max-new-tokens", "12", "--stop", "\n"});
  ASSERT_TRUE(generated.ok()) << generated;
  std::ifstream in(out + "/replies.json");
  const std::vector<std::string> theirs = nlohmann::json::parse(in).get<std::vector<std::string>>();
  EXPECT_EQ(ours, theirs) << eval.output;
  EXPECT_EQ(ours.size(), prompts.size());
}

}  // namespace
}  // namespace tunefleet
