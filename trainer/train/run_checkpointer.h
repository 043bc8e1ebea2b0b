#pragma once
// The training loop's checkpoints: when to save (every interval_steps, the
// last step, by rank 0's clock every interval_seconds; the loop adds the
// ranks' agreed requests), what to save (the model's weights, the
// optimizer's own SaveState(), the trainer state), restoring all of it from
// the newest valid checkpoint at start-up, and reporting each committed save
// in the metrics stream. Saves are written asynchronously
// (AsyncCheckpointSaver). With no checkpoint.directory it is off: it never
// saves and resumes nothing.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/encryption_key.h"
#include "common/lineage/lineage_record.h"
#include "trainer/checkpoint/async_saver.h"
#include "trainer/metrics/metrics_stream.h"
#include "trainer/model/llama_model.h"
#include "trainer/model/lora.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/checkpoint_identity.h"
#include "trainer/train/checkpoint_write_observer.h"
#include "trainer/train/checkpointed_data_state.h"
#include "trainer/train/validation_tracker.h"

namespace tunefleet {

struct RunCheckpointerOptions {
  std::string directory;  // checkpoint.directory (the shared volume); empty: checkpoints off
  CheckpointIdentity identity;
  bool async_save = true;
  int keep_last = 3;
  int64_t interval_steps = 0;    // 0: none by steps
  int64_t interval_seconds = 0;  // 0: none by time
  int64_t total_steps = 0;       // the last step is always saved
  int rank = 0;
  int world_size = 1;
  int zero_stage = 0;
  bool lora = false;
  LoraConfig lora_config;
  // How the frozen base is held ("none" or "nf4", model.quantize): recorded
  // with LoRA checkpoints, so a resume over another base is refused and an
  // export rebuilds the base the adapters were trained on.
  std::string base_quantization = "none";  // kBaseNone or kBaseNf4
  int64_t steps_per_epoch = 1;
  // Encryption at rest: every data file written under the ring's current
  // key, and read back with the ring; null: plaintext.
  std::shared_ptr<const crypto::KeyRing> encryption;
  // What this run reads (rank 0 only; common/lineage): recorded in every
  // manifest, and a checkpoint recorded with other model or data files is
  // refused at resume rather than trained on silently.
  std::optional<Lineage> lineage;
  // The run's judge by validation loss, not owned: its state is saved in
  // and restored from every checkpoint; null: none.
  ValidationTracker* validation = nullptr;
  // Retention also keeps the checkpoint of validation's best step.
  bool keep_best = false;
  // State of the data stream beyond the step (a multi-task mix), saved in
  // the trainer state and restored at resume; null: none. Not owned.
  CheckpointedDataState* data_state = nullptr;
  // Tests only (injected by a test build of the trainer); null: none.
  std::shared_ptr<CheckpointWriteObserver> write_observer;
};

class RunCheckpointer {
 public:
  RunCheckpointer(RunCheckpointerOptions options, CausalLM& model, FlatParameters& params, StepOptimizer& optimizer,
                  MetricsStream& metrics);

  bool enabled() const { return !options_.directory.empty(); }

  // Whether to save after `step` (optimizer steps done): its cadence (every
  // interval_steps, the last step) or `requested` (agreed by the ranks: a
  // signal, the clock). Never when off.
  bool ShouldSave(int64_t step, bool requested) const;
  // Rank 0 only: interval_seconds have passed since the last save (or the
  // start). The loop puts it to the ranks, so all save the same step.
  bool SaveDueByClock() const;

  // Restores the newest valid checkpoint (logging any newer damaged one it
  // skips, by file) and returns its step; 0 with nothing restored when the
  // job has none. Call after the model, LoRA and optimizer exist and after
  // anything else that draws from torch's RNG: the RNG state is restored too.
  absl::StatusOr<int64_t> Resume();

  // Rank 0 renames committed folders newer than `resumed_step` (the damaged
  // ones Resume skipped) to <folder>.damaged-<n>, kept for inspection: the
  // run will save those steps again, and a committed step is never
  // rewritten. Call once every rank has resumed (after a barrier).
  absl::Status SetAsideNewerThan(int64_t resumed_step);

  // Snapshots this rank's state at `step` (optimizer steps done) and starts
  // writing it; with async_save off, also waits for the write and commit.
  // Call only where ShouldSave said so.
  absl::Status Save(int64_t step, double loss);

  // Rank 0: loads the model weights (the adapters, for LoRA) of committed
  // `step` into the model, e.g. the best one before the export. NOT_FOUND
  // when that step has no committed checkpoint.
  absl::Status LoadModelWeightsOf(int64_t step);

  // Reports saves that finished (rank 0: a metrics line per commit). The
  // first failed save's error, naming what failed.
  absl::Status Poll();

  // Waits for the save in flight, then Poll().
  absl::Status Finish();

  const CheckpointRoot& root() const { return root_; }

 private:
  absl::StatusOr<RankCheckpointState> Capture(int64_t step) const;
  absl::Status Report(const SaveOutcome& outcome);

  RunCheckpointerOptions options_;
  CheckpointRoot root_;
  CausalLM& model_;
  FlatParameters& params_;
  StepOptimizer& optimizer_;
  MetricsStream& metrics_;
  std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
  // The step whose files the writer writes now, for the observer (set only
  // once the previous save finished, so each write is told its own step).
  std::shared_ptr<std::atomic<int64_t>> writing_step_ = std::make_shared<std::atomic<int64_t>>(-1);
  // The best step for retention (keep_best), read on the writer thread; -1: none yet.
  std::shared_ptr<std::atomic<int64_t>> best_step_ = std::make_shared<std::atomic<int64_t>>(-1);
  std::unique_ptr<AsyncCheckpointSaver> saver_;
};

}  // namespace tunefleet
