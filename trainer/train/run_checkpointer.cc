#include "trainer/train/run_checkpointer.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/metric_keys.h"
#include "trainer/checkpoint/attempt_fence.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/loader.h"
#include "trainer/checkpoint/rng_state.h"
#include "trainer/checkpoint/step_folder_ops.h"
#include "trainer/model/base_quantization.h"
#include "trainer/model/weight_loading.h"

namespace tunefleet {
namespace {

constexpr char kWeightsKindKey[] = "weights";  // TrainerState::extra: what model.safetensors holds
constexpr char kFullWeights[] = "full";
constexpr char kLoraWeights[] = "lora_adapters";

// The loop's log: stdout, where tests and people read the trainer's story.
void Log(const std::string& message) {
  std::printf("checkpoint: %s\n", message.c_str());
  std::fflush(stdout);
}

}  // namespace

RunCheckpointer::RunCheckpointer(RunCheckpointerOptions options, CausalLM& model, FlatParameters& params,
                                 StepOptimizer& optimizer, MetricsStream& metrics)
    : options_(std::move(options)),
      root_{options_.directory, options_.identity.job},
      model_(model),
      params_(params),
      optimizer_(optimizer),
      metrics_(metrics) {
  if (!enabled()) return;
  AsyncSaverOptions saver;
  saver.root = root_;
  saver.keep_last = options_.keep_last;
  saver.log = Log;
  saver.encryption = options_.encryption;
  saver.lineage = options_.lineage;
  if (options_.keep_best) {
    std::shared_ptr<std::atomic<int64_t>> best = best_step_;
    saver.also_keep = [best]() -> std::optional<int64_t> {
      const int64_t step = best->load();
      if (step < 0) return std::nullopt;
      return step;
    };
  }
  const CheckpointRoot root = root_;
  const CheckpointIdentity identity = options_.identity;
  saver.commit_fence = [root, identity] { return CheckNotSuperseded(root, identity); };
  // The attempt fence's lock is held from its check through the rename.
  saver.commit_guard = [root, identity](const std::function<absl::Status()>& rename) {
    return CommitUnderAttemptFence(root.JobDirectory(), identity.generation, identity.attempt, rename);
  };
  if (options_.write_observer != nullptr) {
    std::shared_ptr<CheckpointWriteObserver> observer = options_.write_observer;
    std::shared_ptr<std::atomic<int64_t>> step = writing_step_;
    saver.write_hook = [observer, step](const std::string& name, uint64_t bytes) {
      return observer->Wrote(step->load(), name, bytes);
    };
  }
  saver_ = std::make_unique<AsyncCheckpointSaver>(std::move(saver));
}

bool RunCheckpointer::ShouldSave(int64_t step, bool requested) const {
  if (!enabled()) return false;
  const bool by_steps = options_.interval_steps > 0 && step % options_.interval_steps == 0;
  return by_steps || requested || step == options_.total_steps;
}

bool RunCheckpointer::SaveDueByClock() const {
  return enabled() && options_.rank == 0 && options_.interval_seconds > 0 &&
         std::chrono::duration<double>(std::chrono::steady_clock::now() - last_save_).count() >=
             static_cast<double>(options_.interval_seconds);
}

absl::StatusOr<RankCheckpointState> RunCheckpointer::Capture(int64_t step) const {
  RankCheckpointState state;
  state.rank = options_.rank;
  state.world_size = options_.world_size;
  state.save_id = options_.identity.SaveId(step);
  if (options_.rank == 0) {
    // LoRA: only the adapters change, the base comes from the base model.
    ModelStateDict dict = NamedStateDict(model_);
    state.model_weights = options_.lora ? std::move(dict.lora) : std::move(dict.weights);
  }
  state.optimizer_shard = optimizer_.SaveState();
  TrainerState& ts = state.trainer_state;
  ts.step = step;
  // The data position is a pure function of the step (RankData::ForStep);
  // epoch and offset are recorded for people and tools. A multi-task mix
  // adds its state below (options_.data_state).
  ts.epoch = step / std::max<int64_t>(1, options_.steps_per_epoch);
  ts.step_in_epoch = step % std::max<int64_t>(1, options_.steps_per_epoch);
  ts.lr_schedule_step = step;
  ts.world_size = options_.world_size;
  ts.rank = options_.rank;
  ts.zero_stage = options_.zero_stage;
  ts.flat_numel = params_.numel();
  ts.flat_padded_numel = params_.padded_numel();
  auto rng = CaptureTorchCpuRngState();
  if (!rng.ok()) return rng.status();
  ts.rng_states[kTorchCpuRngName] = *rng;
  ts.extra[kWeightsKindKey] = options_.lora ? kLoraWeights : kFullWeights;
  ts.extra["generation"] = absl::StrCat(options_.identity.generation);
  ts.extra["attempt"] = absl::StrCat(options_.identity.attempt);
  if (options_.validation != nullptr) options_.validation->SaveState(ts.extra);
  if (options_.data_state != nullptr) {
    for (auto& [key, value] : options_.data_state->SaveDataState(step)) ts.extra[key] = value;
  }
  if (options_.lora) {
    ts.extra["lora_rank"] = absl::StrCat(options_.lora_config.rank);
    ts.extra["lora_alpha"] = absl::StrFormat("%.17g", options_.lora_config.alpha);
    ts.extra["lora_dropout"] = absl::StrFormat("%.17g", options_.lora_config.dropout);
    ts.extra["lora_target_modules"] = absl::StrJoin(options_.lora_config.target_modules, ",");
    ts.extra[kBaseQuantizationKey] = options_.base_quantization;
  }
  return state;
}

absl::Status RunCheckpointer::Save(int64_t step, double loss) {
  auto state = Capture(step);
  if (!state.ok()) return state.status();
  if (options_.validation != nullptr && options_.validation->best_step().has_value()) {
    best_step_->store(*options_.validation->best_step());
  }
  if (options_.write_observer != nullptr) {
    // The previous save must finish first, so the observer is told the step
    // of every write exactly; its outcome stays queued for Poll().
    (void)saver_->Wait();
    writing_step_->store(step);
  }
  if (absl::Status s = saver_->Start(*state, loss); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("checkpoint of step ", step, ": ", s.message()));
  }
  last_save_ = std::chrono::steady_clock::now();
  if (!options_.async_save) return Finish();
  return absl::OkStatus();
}

absl::Status RunCheckpointer::Report(const SaveOutcome& outcome) {
  const SaveTimings& t = outcome.timings;
  if (!outcome.status.ok()) {
    return absl::Status(outcome.status.code(),
                        absl::StrCat("checkpoint of step ", t.step, " failed: ", outcome.status.message()));
  }
  if (!t.committed) return absl::OkStatus();  // another rank's files; rank 0 reports the commit
  const std::string dir = root_.StepDirectory(t.step);
  uint64_t bytes = 0;  // every rank's files, from the manifest just written
  if (auto manifest = ReadManifest(dir); manifest.ok()) {
    for (const FileRecord& file : manifest->files) bytes += file.size_bytes;
  }
  // Synchronous saves stall training for the write too.
  const double stall =
      t.wait_previous_seconds + t.snapshot_seconds + (options_.async_save ? 0.0 : t.write_seconds);
  std::printf("checkpoint: step %lld committed to %s (%llu bytes; stall %.4f s, write %.4f s)\n",
              static_cast<long long>(t.step), dir.c_str(), static_cast<unsigned long long>(bytes), stall,
              t.write_seconds);
  std::fflush(stdout);
  metrics_.Write(metric_keys::kCheckpointEvent, t.step,
                 {{metric_keys::kStallSeconds, stall},
                  {metric_keys::kSaveSeconds, t.write_seconds},
                  {metric_keys::kBytes, static_cast<double>(bytes)},
                  {metric_keys::kCommitted, 1.0}},  // a number: see common/metric_keys.h
                 {{metric_keys::kPath, dir}});
  return absl::OkStatus();
}

absl::Status RunCheckpointer::Poll() {
  absl::Status first;
  if (!enabled()) return first;
  while (std::optional<SaveOutcome> outcome = saver_->TakeCompleted()) {
    absl::Status s = Report(*outcome);
    if (first.ok()) first = s;
  }
  return first;
}

absl::Status RunCheckpointer::Finish() {
  if (!enabled()) return absl::OkStatus();
  (void)saver_->Wait();  // its status comes back through the outcomes
  return Poll();
}

absl::Status RunCheckpointer::SetAsideNewerThan(int64_t resumed_step) {
  if (!enabled() || options_.rank != 0) return absl::OkStatus();
  auto folders = ListStepFolders(root_);
  if (!folders.ok()) return folders.status();
  for (const StepFolder& folder : *folders) {
    if (!folder.committed || folder.step <= resumed_step) continue;
    auto target = MoveStepFolderAside(root_, std::filesystem::path(folder.dir).filename().string());
    if (!target.ok()) {
      return absl::Status(target.status().code(), absl::StrCat("cannot move damaged checkpoint ", folder.dir,
                                                               " aside: ", target.status().message()));
    }
    Log(absl::StrCat("moved damaged checkpoint ", folder.dir, " aside to ", *target));
  }
  return absl::OkStatus();
}

absl::Status RunCheckpointer::LoadModelWeightsOf(int64_t step) {
  if (!enabled()) return absl::FailedPreconditionError("checkpoints are off (no checkpoint.directory)");
  auto committed = ListCommittedCheckpoints(root_, Log);
  if (!committed.ok()) return committed.status();
  for (const CommittedCheckpoint& checkpoint : *committed) {
    if (checkpoint.step != step) continue;
    ResumeRequest request;
    request.rank = 0;
    request.world_size = options_.world_size;
    request.padded_numel = params_.padded_numel();
    request.load_optimizer_shard = false;
    request.log = Log;
    request.encryption = options_.encryption.get();
    auto loaded = LoadCheckpoint(checkpoint, request);
    if (!loaded.ok()) return loaded.status();
    try {
      torch::NoGradGuard no_grad;
      std::map<std::string, torch::Tensor> weights(loaded->model_weights.begin(), loaded->model_weights.end());
      absl::Status s = options_.lora ? LoadLoraWeights(model_, weights) : LoadWeights(model_, weights);
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat(checkpoint.dir, ": ", s.message()));
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("loading the weights of ", checkpoint.dir, ": ", e.what()));
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("no committed checkpoint of step ", step, " under ", root_.JobDirectory()));
}

absl::StatusOr<int64_t> RunCheckpointer::Resume() {
  if (!enabled()) return 0;
  ResumeRequest request;
  request.rank = options_.rank;
  request.world_size = options_.world_size;
  request.padded_numel = params_.padded_numel();
  request.whole_optimizer = options_.zero_stage == 0;
  request.log = Log;
  request.encryption = options_.encryption.get();
  // Before choosing what to resume from: this attempt becomes the newest, so
  // from here on no older attempt commits (every rank writes it; the same
  // attempt again is a no-op).
  auto fence = AdvanceAttemptFence(root_, options_.identity.generation, options_.identity.attempt);
  if (!fence.ok()) return fence.status();
  request.fence = *fence;
  auto loaded = LoadNewestValid(root_, request);
  if (absl::IsNotFound(loaded.status())) {
    Log(absl::StrCat("no checkpoint under ", root_.JobDirectory(), ": starting from step 0"));
    return 0;
  }
  if (!loaded.ok()) return loaded.status();
  // Damaged newer checkpoints were logged by the loader, naming the file.
  if (options_.lineage.has_value() && loaded->manifest.lineage.has_value()) {
    if (absl::Status s = CheckSameInputs(*loaded->manifest.lineage, *options_.lineage); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("cannot resume from ", loaded->dir, ": ", s.message()));
    }
  }
  const TrainerState& ts = loaded->trainer_state;
  if (ts.flat_numel != params_.numel()) {
    return absl::FailedPreconditionError(absl::StrCat(
        loaded->dir, " holds ", ts.flat_numel, " trainable elements; this run has ", params_.numel(),
        " (another model or method?)"));
  }
  const auto kind = ts.extra.find(kWeightsKindKey);
  const std::string expected = options_.lora ? kLoraWeights : kFullWeights;
  if (kind == ts.extra.end() || kind->second != expected) {
    return absl::FailedPreconditionError(absl::StrCat(loaded->dir, " holds ",
                                                      kind == ts.extra.end() ? "unknown" : kind->second,
                                                      " weights; this run trains ", expected));
  }
  if (options_.lora) {
    // Checkpoints from before model.quantize existed trained over a plain base.
    const auto base = ts.extra.find(kBaseQuantizationKey);
    const std::string saved = base == ts.extra.end() ? kBaseNone : base->second;
    if (saved != options_.base_quantization) {
      return absl::FailedPreconditionError(absl::StrCat(loaded->dir, " trained its adapters over a base quantised as ",
                                                        saved, "; this run's model.quantize is ",
                                                        options_.base_quantization));
    }
  }

  const std::optional<OptimizerShardState>& shard = loaded->optimizer_shard;
  if (!shard) return absl::DataLossError(absl::StrCat(loaded->dir, " has no optimizer state for rank ", options_.rank));
  try {
    torch::NoGradGuard no_grad;
    std::map<std::string, torch::Tensor> weights(loaded->model_weights.begin(), loaded->model_weights.end());
    absl::Status s = options_.lora ? LoadLoraWeights(model_, weights) : LoadWeights(model_, weights);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(loaded->dir, ": ", s.message()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("restoring ", loaded->dir, ": ", e.what()));
  }
  // After the weights: the optimizer's range of them follows its fp32 master.
  if (absl::Status s = optimizer_.LoadState(*shard); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(loaded->dir, ": ", s.message()));
  }
  if (options_.data_state != nullptr) {
    if (absl::Status s = options_.data_state->RestoreDataState(ts.extra, loaded->step); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(loaded->dir, ": ", s.message()));
    }
  }
  if (auto rng = ts.rng_states.find(kTorchCpuRngName); rng != ts.rng_states.end()) {
    if (absl::Status s = RestoreTorchCpuRngState(rng->second); !s.ok()) return s;
  }
  if (options_.validation != nullptr) {
    if (absl::Status s = options_.validation->LoadState(ts.extra); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(loaded->dir, ": ", s.message()));
    }
    if (options_.validation->best_step().has_value()) best_step_->store(*options_.validation->best_step());
  }
  Log(absl::StrCat("resumed from ", loaded->dir, " (step ", loaded->step, ", saved by ", loaded->manifest.world_size,
                   " rank(s) as ", loaded->manifest.save_id, "; optimizer state ",
                   loaded->resliced ? "re-sliced" : "as saved", "; RNG of rank ",
                   loaded->trainer_state_from_rank, ")"));
  return loaded->step;
}

}  // namespace tunefleet
