#include "trainer/train/training_run.h"

#include <map>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto/key_config.h"
#include "common/fs/process_path_policy.h"
#include "common/job_spec_defaults.h"
#include "common/job_spec_paths.h"
#include "common/job_spec_validation.h"
#include "common/metric_keys.h"
#include "trainer/checkpoint/encrypted_export.h"
#include "trainer/hf_io/hf_model_export.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/metrics/metrics_stream.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_config.h"
#include "trainer/model/model_init.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/train/run_checkpointer.h"
#include "trainer/train/training_device.h"
#include "trainer/train/train_step.h"
#include "trainer/train/rank_data.h"
#include "trainer/dist/comm_bytes.h"
#include "trainer/dist/zero_optimizer.h"

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
    auto config = LoadBaseModelConfig(dir);
    if (!config.ok()) return config.status();
    return CreateRandomModel(*config, spec.hyperparameters().seed());
  }
  return LoadBaseModel(dir);
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

std::string ExportDirectory(const v1::JobSpec& spec, const std::string& job) {
  if (!spec.export_().directory().empty()) return spec.export_().directory();
  const std::string base = spec.checkpoint().directory().empty() ? "." : spec.checkpoint().directory();
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

// Tests only (see tests/integration/checkpoint_resume_test.cc): the
// checkpoint writer of this step's save blocks mid-file, so a test can kill
// the rank while it writes.
int64_t PauseWriterAtStep() {
  const char* value = std::getenv("TUNEFLEET_TEST_PAUSE_CHECKPOINT_WRITE_AT_STEP");
  return value == nullptr ? -1 : std::atoll(value);
}

// What every rank agreed at a step boundary (one small all-reduce), so all
// ranks save the same step and stop together.
struct BoundaryDecision {
  bool save = false;          // a SIGUSR1 on some rank, or the time interval (rank 0's clock)
  bool stop = false;          // a SIGTERM/SIGINT on some rank
  bool failed_save = false;   // some rank's earlier save failed
};

absl::StatusOr<BoundaryDecision> AgreeAtBoundary(StepOptimizer& optimizer, bool save, bool stop, bool failed) {
  auto sums = optimizer.SumOverRanks({save ? 1.0 : 0.0, stop ? 1.0 : 0.0, failed ? 1.0 : 0.0});
  if (!sums.ok()) return sums.status();
  return BoundaryDecision{(*sums)[0] > 0, (*sums)[1] > 0, (*sums)[2] > 0};
}

}  // namespace

absl::StatusOr<RunEnd> RunTraining(const v1::JobSpec& raw_spec, const RunOptions& options) {
  auto rendezvous = ResolveRendezvous(options.launch);
  if (!rendezvous.ok()) return rendezvous.status();
  v1::JobSpec with_world = raw_spec;
  const int spec_world = raw_spec.resources().world_size();
  if (!rendezvous->url.empty()) {
    // The launcher's world size and the spec's must agree; an unset spec
    // field takes the launcher's.
    if (spec_world == 0) {
      with_world.mutable_resources()->set_world_size(rendezvous->world_size);
    } else if (spec_world != rendezvous->world_size) {
      return absl::InvalidArgumentError(absl::StrCat("resources.world_size is ", spec_world,
                                                     " but the launcher started ", rendezvous->world_size, " ranks"));
    }
  } else if (spec_world > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resources.world_size is ", spec_world,
        ": start one trainer per rank with --rank and --rendezvous (or torchrun's environment)"));
  }
  const v1::JobSpec spec = WithDefaults(with_world);
  if (auto s = ValidateJobSpec(spec); !s.ok()) return s;
  // Every user path, opened through the path policy main installed (the
  // roots the worker gave): a clear error naming the field before any work.
  // The readers below open through the same policy, so this is not the
  // only check, only the first.
  if (auto s = OpenSpecPaths(spec, *InstalledPathPolicy()); !s.ok()) return s;
  // Before anything slow: a missing or unreadable key fails the start.
  auto encryption = crypto::LoadConfiguredKeyRing(options.encryption_key_file);
  if (!encryption.ok()) return encryption.status();
  if (*encryption) {
    std::printf("checkpoint: encrypting checkpoints and the export under key %s\n",
                crypto::KeyIdHex((*encryption)->current().id()).c_str());
  }
  const auto& hp = spec.hyperparameters();
  torch::manual_seed(hp.seed());
  auto device = TrainingDevice(spec, rendezvous->local_rank);
  if (!device.ok()) return device.status();

  std::unique_ptr<Collectives> collectives;
  if (!rendezvous->url.empty()) {
    const auto timeout = std::chrono::seconds(spec.parallelism().collective_timeout_seconds());
    auto connected = ConnectCollectives(*rendezvous, /*cuda=*/device->is_cuda(), timeout);
    if (!connected.ok()) return connected.status();
    collectives = std::move(*connected);
  }
  const int rank = collectives ? collectives->rank() : 0;
  const int world_size = collectives ? collectives->world_size() : 1;
  const bool leader = rank == 0;

  auto metrics = MetricsStream::Open(leader ? options.metrics_out : std::string(), rank);
  if (!metrics.ok()) return metrics.status();
  auto tokenizer = LoadBaseTokenizer(spec.model().path());
  if (!tokenizer.ok()) return tokenizer.status();
  auto model = BuildModel(spec);
  if (!model.ok()) return model.status();
  CausalLM& lm = **model;
  const LoraConfig lora = LoraConfigOf(spec);
  if (spec.method().type() == v1::FINE_TUNE_METHOD_LORA) {
    if (auto s = ApplyLora(lm, lora); !s.ok()) return s;
  }
  // bf16: the model's weights (and so their gradients) in bf16, after LoRA's
  // fp32 initialisation; the optimizer keeps fp32 master weights and moments
  // (AdamW widens whatever it is given). PRECISION_UNSPECIFIED was resolved
  // by WithDefaults: fp32 on CPU-only specs, bf16 where gpus_per_rank > 0.
  const bool bf16 = hp.precision() == v1::PRECISION_BF16;
  if (bf16) {
    try {
      lm.to(torch::kBFloat16);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("hyperparameters.precision: casting the model to bf16: ", e.what()));
    }
  }
  if (device->is_cuda()) {
    // Weights were loaded (and LoRA initialised) on the CPU; the flat buffers,
    // the optimizer's shards and the batches all follow the parameters.
    try {
      lm.to(*device);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("moving the model to ", device->str(), ": ", e.what()));
    }
  }
  auto data = RankData::Load(spec, **tokenizer, rank, world_size, *device);
  if (!data.ok()) return data.status();
  if (leader) std::printf("data: %s\n", (*data)->Summary().c_str());

  // Padded so that the world size divides the flat buffer into equal shards.
  const auto trainable = TrainableParameters(lm);
  auto params = FlatParameters::Create(trainable, IsNoDecayParameter, world_size);
  if (!params.ok()) return params.status();
  const AdamWOptions adamw{hp.adam_beta1(), hp.adam_beta2(), hp.adam_epsilon(), hp.weight_decay()};
  std::unique_ptr<StepOptimizer> optimizer;
  if (collectives) {
    ZeroOptions zero;
    zero.stage = spec.parallelism().zero_stage();
    zero.bucket_bytes = int64_t{spec.parallelism().bucket_size_mb()} << 20;
    zero.adamw = adamw;
    auto created = ZeroOptimizer::Create(*collectives, *params, trainable, zero);
    if (!created.ok()) return created.status();
    std::printf("rank %d/%d: ZeRO stage %d over %s, %zu gradient buckets; optimizer state %lld bytes for "
                "elements [%lld, %lld) of %lld (%lld padding)\n",
                rank, world_size, zero.stage, collectives->backend().c_str(), (*created)->buckets().buckets().size(),
                static_cast<long long>((*created)->state_bytes()), static_cast<long long>((*created)->shard_begin()),
                static_cast<long long>((*created)->shard_begin() + (*created)->shard_numel()),
                static_cast<long long>(params->padded_numel()),
                static_cast<long long>(params->padded_numel() - params->numel()));
    std::fflush(stdout);
    optimizer = std::move(*created);
  } else {
    optimizer = std::make_unique<LocalAdamW>(*params, adamw);
    std::printf("optimizer state %lld bytes\n", static_cast<long long>(optimizer->state_bytes()));
  }
  const int64_t total_steps = (*data)->total_steps();
  const LrSchedule schedule{hp.learning_rate(), hp.warmup_steps(), total_steps, hp.min_lr_ratio(), hp.lr_schedule()};
  if (leader) std::printf("model: %s, %lld trainable parameters (%s, %s); %lld steps of %d sequences x %d tokens\n",
              lm.config().model_type.c_str(), static_cast<long long>(params->numel()),
              spec.method().type() == v1::FINE_TUNE_METHOD_LORA ? "LoRA" : "full",
              bf16 ? "bf16 weights, fp32 master" : "fp32", static_cast<long long>(total_steps),
              hp.global_batch_size(), hp.sequence_length());
  std::fflush(stdout);

  const int64_t eval_every = spec.evaluation().interval_steps();
  auto evaluate = [&](int64_t step) -> absl::Status {
    // Every rank evaluates its share (possibly none) and the sums meet.
    auto local = EvaluateLossSums(lm, (*data)->validation());
    if (!local.ok()) return local.status();
    auto sums = optimizer->SumOverRanks({local->sum, static_cast<double>(local->count)});
    if (!sums.ok()) return sums.status();
    if ((*sums)[1] == 0) return absl::OkStatus();
    const double loss = (*sums)[0] / (*sums)[1];
    if (!leader) return absl::OkStatus();
    std::printf("step %lld: eval loss %.4f\n", static_cast<long long>(step), loss);
    (*metrics)->Write(metric_keys::kEvalEvent, step, {{metric_keys::kEvalLoss, loss}});
    return absl::OkStatus();
  };

  // Checkpoints: on when checkpoint.directory is set. Resume comes last in
  // set-up: it restores torch's RNG, which model and LoRA init draw from.
  std::unique_ptr<RunCheckpointer> checkpointer;
  int64_t first_step = 0;
  const auto& ckpt = spec.checkpoint();
  if (!ckpt.directory().empty()) {
    RunCheckpointerOptions c;
    c.directory = ckpt.directory();
    c.identity = ResolveCheckpointIdentity(options.job_id, spec.display_name());
    // Rank 0's clock names this launch on every rank (exact in a double).
    const double now_ms = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count());
    auto launch = optimizer->SumOverRanks({leader ? now_ms : 0.0});
    if (!launch.ok()) return launch.status();
    c.identity.launch = static_cast<int64_t>((*launch)[0]);
    c.async_save = ckpt.async_save();
    c.keep_last = ckpt.keep_last();
    c.rank = rank;
    c.world_size = world_size;
    c.zero_stage = collectives ? spec.parallelism().zero_stage() : 0;
    c.lora = spec.method().type() == v1::FINE_TUNE_METHOD_LORA;
    c.lora_config = lora;
    c.steps_per_epoch = (*data)->steps_per_epoch();
    c.pause_writer_at_step = PauseWriterAtStep();
    c.encryption = *encryption;
    checkpointer = std::make_unique<RunCheckpointer>(std::move(c), lm, *params, *optimizer, **metrics);
    const auto resume_start = Clock::now();
    auto resumed = checkpointer->Resume();
    if (!resumed.ok()) return resumed.status();
    first_step = *resumed;
    // Every rank must resume the same step (they read the same storage).
    auto steps = optimizer->SumOverRanks({static_cast<double>(first_step)});
    if (!steps.ok()) return steps.status();
    if ((*steps)[0] != static_cast<double>(first_step) * world_size) {
      return absl::FailedPreconditionError(
          absl::StrCat("rank ", rank, " resumed step ", first_step, " but the ranks disagree (storage changed?)"));
    }
    if (auto s = checkpointer->SetAsideNewerThan(first_step); !s.ok()) return s;
    if (leader && first_step > 0) {
      std::printf("checkpoint: resume took %.3f s\n",
                  std::chrono::duration<double>(Clock::now() - resume_start).count());
      std::fflush(stdout);
    }
  }
  auto last_save = Clock::now();

  const auto start = Clock::now();
  auto window_start = start;
  int64_t window_tokens = 0;
  double timed_seconds = 0;  // steps after the first (which warms up allocators and Gloo's pairs)
  if (collectives) collectives->ResetStats();  // the steps' traffic only, not set-up's
  const int64_t written_at_start = ProcessWrittenBytes();
  for (int64_t step = first_step; step < total_steps; ++step) {
    const auto step_start = Clock::now();
    const StepBatches batches = (*data)->ForStep(step);
    StepSettings settings{schedule.At(step), hp.max_grad_norm(), std::max<int64_t>(1, batches.global_loss_tokens)};
    auto result = TrainStep(lm, *params, *optimizer, batches.micro_batches, settings);
    if (!result.ok()) return result.status();
    window_tokens += result->global_tokens;

    const int64_t done = step + 1;
    const auto now = Clock::now();
    if (done > first_step + 1) timed_seconds += std::chrono::duration<double>(now - step_start).count();
    const double window_seconds = std::chrono::duration<double>(now - window_start).count();
    const double tokens_per_second = window_seconds > 0 ? window_tokens / window_seconds : 0;
    if (collectives && done == 1) {
      // Proof of overlap, read by tests: gradients still to come when the
      // first bucket's reduction started.
      const BucketTrace trace = static_cast<ZeroOptimizer&>(*optimizer).buckets().trace();
      std::printf("rank %d: first gradient bucket launched with %d of %d gradients pending; %d buckets launched "
                  "during backward, %d after\n",
                  rank, trace.pending_at_first_launch, trace.total_params, trace.launched_during_backward,
                  trace.launched_after_backward);
      std::fflush(stdout);
    }
    if (collectives && done == total_steps) {
      // Counted (the operations as issued, and what ring collectives would
      // send) beside measured (bytes this process wrote: Gloo's sockets,
      // plus log lines, metrics and any checkpoint written meanwhile).
      const CommStats& stats = collectives->stats();
      const int64_t written = ProcessWrittenBytes();
      std::printf("rank %d: sent %lld bytes (ideal %lld) in %lld collectives over %lld steps; wrote %lld bytes "
                  "(/proc/self/io); mean step %.1f ms (after the first)\n",
                  rank, static_cast<long long>(stats.bytes_sent), static_cast<long long>(stats.ideal_bytes),
                  static_cast<long long>(stats.operations), static_cast<long long>(total_steps - first_step),
                  static_cast<long long>(written >= 0 && written_at_start >= 0 ? written - written_at_start : -1),
                  total_steps > first_step + 1
                      ? 1000.0 * timed_seconds / static_cast<double>(total_steps - first_step - 1)
                      : 0.0);
      const auto& zero = static_cast<const ZeroOptimizer&>(*optimizer);
      int64_t largest_bucket = 0;
      for (const GradBucket& b : zero.buckets().buckets()) {
        largest_bucket = std::max<int64_t>(largest_bucket, (b.end - b.begin) * params->values().element_size());
      }
      std::printf("rank %d: gradient memory after the step %lld bytes (peak staging %lld bytes, largest bucket "
                  "%lld bytes)\n",
                  rank, static_cast<long long>(zero.gradient_bytes()),
                  static_cast<long long>(zero.peak_staging_bytes()), static_cast<long long>(largest_bucket));
    }
    std::map<std::string, double> step_metrics = {
        {metric_keys::kTrainLoss, result->loss},
        {metric_keys::kLearningRate, settings.learning_rate},
        {metric_keys::kGradNorm, result->grad_norm},
        {metric_keys::kTokensPerSecond, tokens_per_second},
        {metric_keys::kTotalSteps, static_cast<double>(total_steps)}};
    if (device->is_cuda()) {
      const DeviceMemory memory = MemoryOf(*device);
      step_metrics["gpu_memory_used_bytes"] = static_cast<double>(memory.used_bytes);
      step_metrics["gpu_memory_peak_bytes"] = static_cast<double>(memory.peak_allocated_bytes);
    }
    (*metrics)->Write("step", done, step_metrics);
    if (leader && (done == 1 || done % options.log_every == 0 || done == total_steps)) {
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double eta = elapsed / static_cast<double>(done - first_step) * static_cast<double>(total_steps - done);
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

    // Step boundary: requests from signals and the clock are agreed first.
    absl::Status save_error = checkpointer ? checkpointer->Poll() : absl::OkStatus();
    const bool usr1 = options.save_requested != nullptr && options.save_requested->exchange(false);
    const bool term = options.stop_requested != nullptr && options.stop_requested->load();
    const bool time_due = leader && checkpointer && ckpt.interval_seconds() > 0 &&
                          std::chrono::duration<double>(Clock::now() - last_save).count() >=
                              static_cast<double>(ckpt.interval_seconds());
    auto decision = AgreeAtBoundary(*optimizer, usr1 || time_due, term, !save_error.ok());
    if (!decision.ok()) return decision.status();
    if (!save_error.ok()) return save_error;  // a failed save stops the run: see docs/checkpoints.md
    if (decision->failed_save) {
      return absl::AbortedError(absl::StrCat("stopping at step ", done, ": a checkpoint save failed on another rank"));
    }
    if (decision->stop && !checkpointer) {
      return absl::CancelledError(
          absl::StrCat("stopped by request after step ", done, " (no checkpoint.directory: not resumable)"));
    }
    const bool by_steps = ckpt.interval_steps() > 0 && done % ckpt.interval_steps() == 0;
    if (checkpointer && (by_steps || decision->save || decision->stop || done == total_steps)) {
      if (auto s = checkpointer->Save(done, result->loss); !s.ok()) return s;
      last_save = Clock::now();
    }
    if (decision->stop) {
      // Exit only once the checkpoint is committed, and all ranks say so.
      const absl::Status finished = checkpointer->Finish();
      auto failures = optimizer->SumOverRanks({finished.ok() ? 0.0 : 1.0});
      if (!failures.ok()) return failures.status();
      if (!finished.ok()) return finished;
      if ((*failures)[0] > 0) {
        return absl::AbortedError(absl::StrCat("stopped after step ", done, " but another rank's save failed"));
      }
      std::printf("rank %d: stopped by request after committing the checkpoint of step %lld (resumable)\n", rank,
                  static_cast<long long>(done));
      std::fflush(stdout);
      (*metrics)->Write("stopped", done, {}, {{"checkpoint", checkpointer->root().StepDirectory(done)}});
      return RunEnd::kStoppedAfterCheckpoint;
    }
  }
  if (checkpointer) {
    // The final checkpoint must be committed before the run counts as done.
    const absl::Status finished = checkpointer->Finish();
    auto failures = optimizer->SumOverRanks({finished.ok() ? 0.0 : 1.0});
    if (!failures.ok()) return failures.status();
    if (!finished.ok()) return finished;
    if ((*failures)[0] > 0) return absl::AbortedError("the final checkpoint failed on another rank");
  }
  if (auto s = evaluate(total_steps); !s.ok()) return s;

  if (!leader) {
    std::printf("rank %d: done\n", rank);
    return RunEnd::kCompleted;
  }
  const std::string out_dir = ExportDirectory(spec, ResolveCheckpointIdentity(options.job_id, spec.display_name()).job);
  const auto write = [&](const std::string& dir) { return Export(spec, lm, lora, dir); };
  if (auto s = WriteExport(out_dir, encryption->get(), write); !s.ok()) {
    return s;
  }
  std::printf("exported %s to %s\n", v1::ExportFormat_Name(spec.export_().format()).c_str(), out_dir.c_str());
  (*metrics)->Write("done", total_steps, {}, {{"export_path", out_dir}});
  return RunEnd::kCompleted;
}

}  // namespace tunefleet
