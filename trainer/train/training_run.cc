#include "trainer/train/training_run.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/job_spec_defaults.h"
#include "common/job_spec_validation.h"
#include "trainer/hf_io/hf_model_export.h"
#include "trainer/hf_io/hf_model_loader.h"
#include "trainer/metrics/metrics_stream.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_config.h"
#include "trainer/model/model_init.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/train/train_step.h"
#include "trainer/train/rank_data.h"

namespace tunefleet {
namespace {

using Clock = std::chrono::steady_clock;

std::string FormatDuration(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

absl::StatusOr<std::shared_ptr<CausalLM>> BuildModel(const v1::JobSpec& spec) {
  const std::string& dir = spec.model().path();
  if (spec.model().from_scratch()) {
    auto config = LoadModelConfig(dir + "/config.json");
    if (!config.ok()) return config.status();
    return CreateRandomModel(*config, spec.hyperparameters().seed());
  }
  return LoadHfModel(dir);
}

LoraConfig LoraConfigOf(const v1::JobSpec& spec) {
  const auto& l = spec.method().lora();
  LoraConfig lora;
  lora.rank = l.rank();
  lora.alpha = l.alpha();
  lora.dropout = l.dropout();
  lora.target_modules.assign(l.target_modules().begin(), l.target_modules().end());
  lora.seed = spec.hyperparameters().seed();
  return lora;
}

std::string ExportDirectory(const v1::JobSpec& spec) {
  if (!spec.export_().directory().empty()) return spec.export_().directory();
  const std::string base = spec.checkpoint().directory().empty() ? "." : spec.checkpoint().directory();
  const std::string job = spec.display_name().empty() ? "job" : spec.display_name();
  return base + "/" + job + "/export";
}

absl::Status Export(const v1::JobSpec& spec, CausalLM& model, const LoraConfig& lora, const std::string& out_dir) {
  switch (spec.export_().format()) {
    case v1::EXPORT_FORMAT_PEFT_ADAPTER:
      return ExportPeftAdapter(model, lora, spec.model().path(), out_dir);
    default:
      // A LoRA run exported as a plain model is the merged model: the base
      // weights alone would silently drop everything it learned.
      if (HasLora(model)) MergeLora(model);
      return ExportHfModel(model, spec.model().path(), out_dir);
  }
}

}  // namespace

absl::Status RunTraining(const v1::JobSpec& raw_spec, const RunOptions& options) {
  const v1::JobSpec spec = WithDefaults(raw_spec);
  if (auto s = ValidateJobSpec(spec); !s.ok()) return s;
  const auto& hp = spec.hyperparameters();
  torch::manual_seed(hp.seed());

  auto metrics = MetricsStream::Open(options.metrics_out, /*rank=*/0);
  if (!metrics.ok()) return metrics.status();
  auto tokenizer = Tokenizer::FromFile(spec.model().path() + "/tokenizer.json");
  if (!tokenizer.ok()) return tokenizer.status();
  auto model = BuildModel(spec);
  if (!model.ok()) return model.status();
  CausalLM& lm = **model;
  const LoraConfig lora = LoraConfigOf(spec);
  if (spec.method().type() == v1::FINE_TUNE_METHOD_LORA) {
    if (auto s = ApplyLora(lm, lora); !s.ok()) return s;
  }
  auto data = RankData::Load(spec, **tokenizer, /*rank=*/0, /*world_size=*/1, torch::kCPU);
  if (!data.ok()) return data.status();
  std::printf("data: %s\n", (*data)->Summary().c_str());

  auto params = FlatParameters::Create(TrainableParameters(lm), IsNoDecayParameter);
  if (!params.ok()) return params.status();
  AdamW optimizer(params->values(), 0, params->decay_numel(),
                  AdamWOptions{hp.adam_beta1(), hp.adam_beta2(), hp.adam_epsilon(), hp.weight_decay()});
  const int64_t total_steps = (*data)->total_steps();
  const LrSchedule schedule{hp.learning_rate(), hp.warmup_steps(), total_steps, hp.min_lr_ratio(), hp.lr_schedule()};
  std::printf("model: %s, %lld trainable parameters (%s); %lld steps of %d sequences x %d tokens\n",
              lm.config().model_type.c_str(), static_cast<long long>(params->numel()),
              spec.method().type() == v1::FINE_TUNE_METHOD_LORA ? "LoRA" : "full", static_cast<long long>(total_steps),
              hp.global_batch_size(), hp.sequence_length());
  std::fflush(stdout);

  const int64_t eval_every = spec.evaluation().interval_steps();
  auto evaluate = [&](int64_t step) -> absl::Status {
    if ((*data)->validation().empty()) return absl::OkStatus();
    auto loss = EvaluateLoss(lm, (*data)->validation());
    if (!loss.ok()) return loss.status();
    std::printf("step %lld: eval loss %.4f\n", static_cast<long long>(step), *loss);
    (*metrics)->Write("eval", step, {{"eval_loss", *loss}});
    return absl::OkStatus();
  };

  const auto start = Clock::now();
  auto window_start = start;
  int64_t window_tokens = 0;
  for (int64_t step = 0; step < total_steps; ++step) {
    if (options.stop_requested != nullptr && options.stop_requested->load()) {
      return absl::CancelledError(absl::StrCat("stopped by request at step ", step));
    }
    const StepBatches batches = (*data)->ForStep(step);
    StepSettings settings{schedule.At(step), hp.max_grad_norm(), std::max<int64_t>(1, batches.global_loss_tokens)};
    auto result = TrainStep(lm, *params, optimizer, batches.micro_batches, settings);
    if (!result.ok()) return result.status();
    window_tokens += result->tokens;

    const int64_t done = step + 1;
    const auto now = Clock::now();
    const double window_seconds = std::chrono::duration<double>(now - window_start).count();
    const double tokens_per_second = window_seconds > 0 ? window_tokens / window_seconds : 0;
    (*metrics)->Write("step", done,
                      {{"train_loss", result->loss}, {"learning_rate", settings.learning_rate},
                       {"grad_norm", result->grad_norm}, {"tokens_per_second", tokens_per_second},
                       {"total_steps", static_cast<double>(total_steps)}});
    if (done == 1 || done % options.log_every == 0 || done == total_steps) {
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double eta = elapsed / done * (total_steps - done);
      std::printf("step %lld/%lld  loss %.4f  lr %.2e  grad-norm %.3f  %.0f tok/s  elapsed %s  eta %s\n",
                  static_cast<long long>(done), static_cast<long long>(total_steps), result->loss,
                  settings.learning_rate, result->grad_norm, tokens_per_second, FormatDuration(elapsed).c_str(),
                  FormatDuration(eta).c_str());
      std::fflush(stdout);
      window_start = now;
      window_tokens = 0;
    }
    if (eval_every > 0 && done % eval_every == 0 && done != total_steps) {
      if (auto s = evaluate(done); !s.ok()) return s;
    }
  }
  if (auto s = evaluate(total_steps); !s.ok()) return s;

  const std::string out_dir = ExportDirectory(spec);
  if (auto s = Export(spec, lm, lora, out_dir); !s.ok()) return s;
  std::printf("exported %s to %s\n", v1::ExportFormat_Name(spec.export_().format()).c_str(), out_dir.c_str());
  (*metrics)->Write("done", total_steps, {}, {{"export_path", out_dir}});
  return absl::OkStatus();
}

}  // namespace tunefleet
