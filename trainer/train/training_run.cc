#include "trainer/train/training_run.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto/key_config.h"
#include "common/evaluation_report.h"
#include "common/fs/atomic_file.h"
#include "common/fs/process_path_policy.h"
#include "common/job_spec_defaults.h"
#include "common/lineage/lineage.h"
#include "common/job_spec_paths.h"
#include "common/job_spec_validation.h"
#include "common/metric_keys.h"
#include "common/metric_sample_limits.h"
#include "trainer/checkpoint/encrypted_export.h"
#include "trainer/hf_io/hf_model_export.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/metrics/metrics_stream.h"
#include "trainer/model/base_quantization.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_config.h"
#include "trainer/model/model_init.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/train/after_training_evaluation.h"
#include "trainer/train/run_checkpointer.h"
#include "trainer/train/step_reporter.h"
#include "trainer/train/trainer.h"
#include "trainer/train/training_device.h"
#include "trainer/train/rank_data.h"
#include "trainer/dist/rank_agreement.h"
#include "trainer/dist/zero_optimizer.h"

namespace tunefleet {
namespace {

// This process's resident set, in bytes (0 where /proc is not there).
int64_t ResidentBytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  long long size = 0, resident = 0;
  const int read = std::fscanf(statm, "%lld %lld", &size, &resident);
  std::fclose(statm);
  return read == 2 ? resident * static_cast<int64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

// Linux's peak resident set (VmHWM) in bytes; 0 where /proc is not there.
int64_t PeakResidentBytes() {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  long long kb = 0;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
  }
  std::fclose(status);
  return kb * 1024;
}

// Starts VmHWM again from the current resident set, so the peak read after
// training is the steps', not the model build's (a float32 load before the
// bf16 cast holds both). Best effort: without it the peak is the process's.
bool ResetPeakResident() {
  std::FILE* clear = std::fopen("/proc/self/clear_refs", "w");
  if (clear == nullptr) return false;
  const bool written = std::fputs("5", clear) >= 0;
  return std::fclose(clear) == 0 && written;
}

// The float32 weights that a bf16 cast, an NF4 base or the move to a GPU
// replaced are freed, but glibc keeps freed pages for reuse: hand them
// back, so the trainer's RSS shows what the model holds.
void ReturnFreedMemory() {
#ifdef __GLIBC__
  const int64_t before = ResidentBytes();
  ::malloc_trim(0);
  const int64_t after = ResidentBytes();
  if (before > 0 && before - after >= (int64_t{64} << 20)) {
    std::printf("memory: resident %.0f MB -> %.0f MB after returning the replaced weights' pages\n", before / 1e6,
                after / 1e6);
  }
#endif
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

// The spec as this launch runs it: the launcher's world size (the spec's
// must agree; an unset one takes it), defaults applied, validated, and every
// user path opened through the path policy main installed (the roots the
// worker gave): a clear error naming the field before any work. The readers
// open through the same policy, so this is not the only check, only the first.
absl::StatusOr<v1::JobSpec> SpecForLaunch(const v1::JobSpec& raw_spec, const RendezvousConfig& rendezvous) {
  v1::JobSpec with_world = raw_spec;
  const int spec_world = raw_spec.resources().world_size();
  if (rendezvous.distributed()) {
    if (spec_world == 0) {
      with_world.mutable_resources()->set_world_size(rendezvous.world_size);
    } else if (spec_world != rendezvous.world_size) {
      return absl::InvalidArgumentError(absl::StrCat("resources.world_size is ", spec_world,
                                                     " but the launcher started ", rendezvous.world_size, " ranks"));
    }
  } else if (spec_world > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resources.world_size is ", spec_world,
        ": start one trainer per rank with --rank and --rendezvous (or torchrun's environment)"));
  }
  v1::JobSpec spec = WithDefaults(with_world);
  if (auto s = ValidateJobSpec(spec); !s.ok()) return s;
  if (auto s = OpenSpecPaths(spec, *InstalledPathPolicy()); !s.ok()) return s;
  return spec;
}

// The model to train: loaded (or random), LoRA applied, cast and moved.
absl::StatusOr<std::shared_ptr<CausalLM>> TrainingModel(const v1::JobSpec& spec, const LoraConfig& lora,
                                                        const torch::Device& device) {
  auto model = BuildModel(spec);
  if (!model.ok()) return model.status();
  CausalLM& lm = **model;
  if (spec.method().type() == v1::FINE_TUNE_METHOD_LORA) {
    if (auto s = ApplyLora(lm, lora); !s.ok()) return s;
  }
  // QLoRA: quantised from the loaded float32 weights, before any bf16 cast,
  // straight onto the training device (the packed base is no buffer, so the
  // casts and moves below leave it as it is).
  if (spec.model().quantize() == v1::BASE_QUANTIZATION_NF4) {
    if (auto s = QuantizeBaseToNf4(lm, device); !s.ok()) return s;
  }
  // bf16: the model's weights (and so their gradients) in bf16, after LoRA's
  // fp32 initialisation; the optimizer keeps fp32 master weights and moments
  // (AdamW widens whatever it is given). PRECISION_UNSPECIFIED was resolved
  // by WithDefaults: fp32 on CPU-only specs, bf16 where gpus_per_rank > 0.
  if (spec.hyperparameters().precision() == v1::PRECISION_BF16) {
    try {
      lm.to(torch::kBFloat16);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("hyperparameters.precision: casting the model to bf16: ", e.what()));
    }
  }
  if (device.is_cuda()) {
    // Weights were loaded (and LoRA initialised) on the CPU; the flat buffers,
    // the optimizer's shards and the batches all follow the parameters.
    try {
      lm.to(device);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("moving the model to ", device.str(), ": ", e.what()));
    }
  }
  ReturnFreedMemory();
  return model;
}

// ZeRO over the collectives when there are any; else AdamW on this process.
absl::StatusOr<std::unique_ptr<StepOptimizer>> BuildOptimizer(
    const v1::JobSpec& spec, Collectives* collectives, FlatParameters& params,
    const std::vector<std::pair<std::string, torch::Tensor>>& trainable) {
  const auto& hp = spec.hyperparameters();
  const AdamWOptions adamw{hp.adam_beta1(), hp.adam_beta2(), hp.adam_epsilon(), hp.weight_decay()};
  if (collectives == nullptr) {
    auto local = std::make_unique<LocalAdamW>(params, adamw);
    std::printf("optimizer state %lld bytes\n", static_cast<long long>(local->state_bytes()));
    return local;
  }
  ZeroOptions zero;
  zero.stage = spec.parallelism().zero_stage();
  zero.bucket_bytes = int64_t{spec.parallelism().bucket_size_mb()} << 20;
  zero.adamw = adamw;
  auto created = ZeroOptimizer::Create(*collectives, params, trainable, zero);
  if (!created.ok()) return created.status();
  const ZeroOptimizer& z = **created;
  std::printf("rank %d/%d: ZeRO stage %d over %s, %zu gradient buckets; optimizer state %lld bytes for "
              "elements [%lld, %lld) of %lld (%lld padding)\n",
              collectives->rank(), collectives->world_size(), zero.stage, collectives->backend().c_str(),
              z.buckets().buckets().size(), static_cast<long long>(z.state_bytes()),
              static_cast<long long>(z.shard_begin()), static_cast<long long>(z.shard_begin() + z.shard_numel()),
              static_cast<long long>(params.padded_numel()),
              static_cast<long long>(params.padded_numel() - params.numel()));
  std::fflush(stdout);
  return std::unique_ptr<StepOptimizer>(std::move(*created));
}

// Rank 0 hashes what the run reads (common/lineage) and reports it: a log
// line, and a metrics event the coordinator keeps on the job (trimmed to
// the inputs that fit one text value; the manifests and the export keep all).
absl::StatusOr<Lineage> ReportLineage(const v1::JobSpec& spec, MetricsStream& metrics) {
  const auto start = std::chrono::steady_clock::now();
  auto lineage = ComputeLineage(spec);
  if (!lineage.ok()) return lineage.status();
  uint64_t bytes = 0;
  for (const ContentHash& input : lineage->inputs) bytes += input.size_bytes;
  std::printf("lineage: %zu input files (%.1f MB) hashed in %.2f s; spec sha256 %s\n", lineage->inputs.size(),
              static_cast<double>(bytes) / 1e6,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
              lineage->spec_sha256.c_str());
  Lineage reported = *lineage;
  std::string text = LineageToJson(reported, /*indent=*/-1);
  while (static_cast<int64_t>(text.size()) > metric_sample_limits::kMaxTextBytes && !reported.inputs.empty()) {
    reported.inputs.pop_back();
    text = LineageToJson(reported, /*indent=*/-1);
  }
  metrics.Write(metric_keys::kLineageEvent, 0, {}, {{metric_keys::kLineage, text}});
  return lineage;
}

// The job's evaluation stage: the table in the log, the report in the
// export folder (encrypted like the rest of it) and in the metrics stream,
// for the coordinator to keep on the job.
absl::Status EvaluateAfterTraining(const AfterTrainingEvaluation& stage, CausalLM& lm, const Tokenizer& tokenizer,
                                   const std::string& out_dir, const crypto::KeyRing* keys, MetricsStream& metrics,
                                   int64_t step) {
  const auto start = std::chrono::steady_clock::now();
  auto evaluation = stage.Run(lm, tokenizer);
  if (!evaluation.ok()) {
    return absl::Status(evaluation.status().code(),
                        absl::StrCat("evaluation.after_training: ", evaluation.status().message()));
  }
  std::printf("%s", ComparisonTable(*evaluation, /*show=*/3).c_str());
  std::printf("evaluation: took %.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  std::fflush(stdout);
  const std::string file = EvaluationReportToFileJson(*evaluation) + "\n";
  auto write = [&](const std::string& dir) { return WriteFileAtomically(dir + "/" + kEvaluationFileName, file); };
  if (auto s = WriteExport(out_dir, keys, write); !s.ok()) return s;
  metrics.Write(metric_keys::kEvaluationEvent, step, {},
                {{metric_keys::kEvaluation, EvaluationReportToJson(*evaluation, metric_sample_limits::kMaxTextBytes)}});
  return absl::OkStatus();
}

RunCheckpointerOptions CheckpointerOptions(const v1::JobSpec& spec, const CheckpointIdentity& identity,
                                           RankData& data, const RankAgreement& agreement,
                                           const LoraConfig& lora, const RunOptions& options,
                                           std::shared_ptr<const crypto::KeyRing> encryption,
                                           const std::optional<Lineage>& lineage, ValidationTracker& validation) {
  const auto& ckpt = spec.checkpoint();
  RunCheckpointerOptions c;
  c.directory = ckpt.directory();
  c.identity = identity;
  c.async_save = ckpt.async_save();
  c.keep_last = ckpt.keep_last();
  c.interval_steps = ckpt.interval_steps();
  c.interval_seconds = ckpt.interval_seconds();
  c.total_steps = data.total_steps();
  c.rank = agreement.rank();
  c.world_size = agreement.world_size();
  c.zero_stage = agreement.distributed() ? spec.parallelism().zero_stage() : 0;  // one process: LocalAdamW
  c.lora = spec.method().type() == v1::FINE_TUNE_METHOD_LORA;
  c.lora_config = lora;
  c.base_quantization = spec.model().quantize() == v1::BASE_QUANTIZATION_NF4 ? kBaseNf4 : kBaseNone;
  c.steps_per_epoch = data.steps_per_epoch();
  c.encryption = std::move(encryption);
  c.write_observer = options.checkpoint_write_observer;
  c.lineage = lineage;
  c.validation = &validation;
  c.keep_best = ckpt.keep_best();
  c.data_state = &data;
  return c;
}

}  // namespace

absl::StatusOr<RunEnd> RunTraining(const v1::JobSpec& raw_spec, const RunOptions& options) {
  auto rendezvous = ResolveRendezvous(options.launch);
  if (!rendezvous.ok()) return rendezvous.status();
  auto launched = SpecForLaunch(raw_spec, *rendezvous);
  if (!launched.ok()) return launched.status();
  const v1::JobSpec& spec = *launched;
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

  // The ranks meet; their process group shuts down when `collectives` goes,
  // on every way out of this function.
  std::unique_ptr<Collectives> collectives;
  if (rendezvous->distributed()) {
    const auto timeout = std::chrono::seconds(spec.parallelism().collective_timeout_seconds());
    auto connected = ConnectCollectives(*rendezvous, /*cuda=*/device->is_cuda(), timeout);
    if (!connected.ok()) return connected.status();
    collectives = std::move(*connected);
  }
  RankAgreement agreement(collectives.get());
  const bool leader = agreement.leader();

  // The components.
  auto metrics = MetricsStream::Open(leader ? options.metrics_out : std::string(), agreement.rank());
  if (!metrics.ok()) return metrics.status();
  std::optional<Lineage> lineage;
  if (leader) {
    auto hashed = ReportLineage(spec, **metrics);
    if (!hashed.ok()) return hashed.status();
    lineage = *std::move(hashed);
  }
  auto tokenizer = LoadBaseTokenizer(spec.model().path());
  if (!tokenizer.ok()) return tokenizer.status();
  const LoraConfig lora = LoraConfigOf(spec);
  const int64_t resident_before_model = ResidentBytes();
  auto model = TrainingModel(spec, lora, *device);
  if (!model.ok()) return model.status();
  CausalLM& lm = **model;
  auto data = RankData::Load(spec, **tokenizer, agreement.rank(), agreement.world_size(), *device);
  if (!data.ok()) return data.status();
  if (leader) std::printf("data: %s\n", (*data)->Summary().c_str());
  std::unique_ptr<AfterTrainingEvaluation> after_training;
  if (leader && spec.evaluation().has_after_training()) {
    auto prepared = AfterTrainingEvaluation::Prepare(spec, (*data)->format(), (*data)->task_formats());
    if (!prepared.ok()) return prepared.status();
    after_training = *std::move(prepared);
  }
  // Padded so that the world size divides the flat buffer into equal shards.
  const auto trainable = TrainableParameters(lm);
  auto params = FlatParameters::Create(trainable, IsNoDecayParameter, agreement.world_size());
  if (!params.ok()) return params.status();
  auto optimizer = BuildOptimizer(spec, collectives.get(), *params, trainable);
  if (!optimizer.ok()) return optimizer.status();
  const int64_t total_steps = (*data)->total_steps();
  if (leader) {
    std::printf("model: %s, %lld trainable parameters (%s, %s); %lld steps of %d sequences x %d tokens\n",
                lm.config().model_type.c_str(), static_cast<long long>(params->numel()),
                spec.method().type() != v1::FINE_TUNE_METHOD_LORA ? "full"
                : HasNf4Base(lm)                                   ? "LoRA over an nf4 base"
                                                                   : "LoRA",
                hp.precision() == v1::PRECISION_BF16 ? "bf16 weights, fp32 master" : "fp32",
                static_cast<long long>(total_steps), hp.global_batch_size(), hp.sequence_length());
  }
  std::fflush(stdout);

  CheckpointIdentity identity = ResolveCheckpointIdentity(options.job_id, spec.display_name());
  if (!spec.checkpoint().directory().empty()) {
    // Rank 0's clock names this launch on every rank (exact in a double).
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    auto launch = agreement.LeaderValue(now_ms, "the launch's start time");
    if (!launch.ok()) return launch.status();
    identity.launch = *launch;
  }
  ValidationTracker validation(spec.evaluation().early_stopping_patience(),
                               spec.evaluation().early_stopping_min_delta());
  RunCheckpointer checkpointer(
      CheckpointerOptions(spec, identity, **data, agreement, lora, options, *encryption, lineage, validation), lm,
      *params, **optimizer, **metrics);
  StepReporter reporter({agreement.rank(), options.log_every, total_steps, *device}, **metrics, **optimizer,
                        collectives.get());

  // Train.
  TrainerSettings settings;
  settings.schedule = {hp.learning_rate(), hp.warmup_steps(), total_steps, hp.min_lr_ratio(), hp.lr_schedule()};
  settings.max_grad_norm = hp.max_grad_norm();
  settings.eval_every = spec.evaluation().interval_steps();
  settings.save_best = spec.checkpoint().keep_best();
  settings.stop_requested = options.stop_requested;
  settings.save_requested = options.save_requested;
  Trainer trainer({lm, *params, **data, **optimizer, checkpointer, reporter, agreement, validation}, settings);
  const bool peak_reset = ResetPeakResident();
  auto end = trainer.Run();
  if (!end.ok() || *end == RunEnd::kStoppedAfterCheckpoint) return end;
  // Host memory the run held beyond what the process had before the model
  // (bench/distributed_step_bench.sh divides it by the parameters).
  std::printf("rank %d: memory: resident before the model %lld bytes, peak resident %s %lld bytes (VmHWM)\n",
              agreement.rank(), static_cast<long long>(resident_before_model),
              peak_reset ? "during training" : "of the process", static_cast<long long>(PeakResidentBytes()));
  std::fflush(stdout);
  const int64_t last_step = trainer.last_step();

  // Export (rank 0).
  if (!leader) {
    std::printf("rank %d: done\n", agreement.rank());
    return RunEnd::kCompleted;
  }
  // checkpoint.keep_best: the export is the best model by validation loss.
  if (spec.checkpoint().keep_best() && validation.best_step().has_value() && *validation.best_step() != last_step) {
    if (auto s = checkpointer.LoadModelWeightsOf(*validation.best_step()); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("checkpoint.keep_best: loading the best checkpoint: ", s.message()));
    }
    std::printf("exporting the best checkpoint: step %lld (validation loss %.6g), not the last (step %lld)\n",
                static_cast<long long>(*validation.best_step()), validation.best_loss(),
                static_cast<long long>(last_step));
  }
  const std::string out_dir = ExportDirectory(spec, identity.job);
  const auto write = [&](const std::string& dir) {
    if (auto s = Export(spec, lm, lora, dir); !s.ok()) return s;
    return WriteFileAtomically(dir + "/" + kLineageFileName, LineageToJson(*lineage) + "\n");
  };
  if (auto s = WriteExport(out_dir, encryption->get(), write); !s.ok()) return s;
  std::printf("exported %s to %s\n", v1::ExportFormat_Name(spec.export_().format()).c_str(), out_dir.c_str());
  std::fflush(stdout);
  if (after_training != nullptr) {
    if (auto s = EvaluateAfterTraining(*after_training, lm, **tokenizer, out_dir, encryption->get(), **metrics, last_step);
        !s.ok()) {
      return s;
    }
  }
  reporter.Done(last_step, out_dir);
  return RunEnd::kCompleted;
}

}  // namespace tunefleet
