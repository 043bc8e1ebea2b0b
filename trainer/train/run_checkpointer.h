#pragma once
// The training loop's side of checkpoints: turns the live model, flat
// parameters and optimizer into a RankCheckpointState at a step boundary
// (saved asynchronously by AsyncCheckpointSaver), restores them from the
// newest valid checkpoint at start-up, and reports each committed save in
// the metrics stream. Which steps to save is the loop's decision (all
// ranks must agree); this class only does it.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/encryption_key.h"
#include "trainer/checkpoint/async_saver.h"
#include "trainer/metrics/metrics_stream.h"
#include "trainer/model/llama_model.h"
#include "trainer/model/lora.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/checkpoint_identity.h"

namespace tunefleet {

struct RunCheckpointerOptions {
  std::string directory;  // checkpoint.directory (the shared volume)
  CheckpointIdentity identity;
  bool async_save = true;
  int keep_last = 3;
  int rank = 0;
  int world_size = 1;
  int zero_stage = 0;
  bool lora = false;
  LoraConfig lora_config;
  int64_t steps_per_epoch = 1;
  // Encryption at rest: every data file written under the ring's current
  // key, and read back with the ring; null: plaintext.
  std::shared_ptr<const crypto::KeyRing> encryption;
  // Tests only: the writer blocks after its first bytes of this step's save
  // (so a test can kill a rank mid-write); -1: never.
  int64_t pause_writer_at_step = -1;
};

class RunCheckpointer {
 public:
  RunCheckpointer(RunCheckpointerOptions options, CausalLM& model, FlatParameters& params, StepOptimizer& optimizer,
                  MetricsStream& metrics);

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
  absl::Status Save(int64_t step, double loss);

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
  std::shared_ptr<std::atomic<bool>> pause_armed_ = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<AsyncCheckpointSaver> saver_;
};

}  // namespace tunefleet
