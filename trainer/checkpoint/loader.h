#pragma once
// Resuming: read a committed checkpoint for rank r of M, verifying the
// size and CRC32C of every file before it is read, re-slicing the flat
// optimizer state when M (or the padding) differs from the save's.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "common/crypto/encryption_key.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/attempt_fence.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/rank_state.h"

namespace tunefleet {

struct ResumeRequest {
  int rank = 0;
  int world_size = 1;
  // The padded length of the flat buffer in the resumed run; 0: the real
  // numel rounded up to a multiple of world_size (FlatParameters' rule).
  int64_t padded_numel = 0;
  bool load_model_weights = true;
  bool load_optimizer_shard = true;
  // The whole padded range instead of this rank's shard (ZeRO stage 0 and
  // one process keep all of the optimizer state on every rank).
  bool whole_optimizer = false;
  CheckpointLog log;  // fallbacks and skipped checkpoints; null: stderr
  // The key ring to decrypt with (it outlives the call); null: the files
  // must be plaintext. A wrong key or a tampered file is an error naming
  // the file, and LoadNewestValid falls back as for any damage.
  const crypto::KeyRing* encryption = nullptr;
  // The job's attempt fence: checkpoints it fences out (FencedOut) are
  // ignored; nullopt: every committed checkpoint counts.
  std::optional<AttemptFence> fence;
};

struct LoadedCheckpoint {
  int64_t step = 0;
  std::string dir;
  Manifest manifest;
  // This rank's saved state; when the save had fewer ranks than `rank`,
  // rank 0's, and trainer_state_from_rank says so (its RNG states then
  // belong to another rank: the loop decides whether to reseed).
  TrainerState trainer_state;
  int trainer_state_from_rank = 0;
  std::vector<std::pair<std::string, torch::Tensor>> model_weights;  // in file (name) order
  std::optional<OptimizerShardState> optimizer_shard;  // this rank's range of the resumed run
  bool resliced = false;  // the range differs from any one saved shard
  // Newer committed checkpoints that failed verification, with why.
  std::vector<std::string> skipped;
};

// One checkpoint; DATA_LOSS naming the file on a size or checksum mismatch.
absl::StatusOr<LoadedCheckpoint> LoadCheckpoint(const CommittedCheckpoint& checkpoint, const ResumeRequest& request);

// The newest committed checkpoint that loads; each newer one that fails
// (damaged manifest, truncated or corrupted file) is logged, naming the
// file, and recorded in `skipped`. NOT_FOUND when there is none (a fresh
// start), DATA_LOSS listing every failure when all are damaged.
absl::StatusOr<LoadedCheckpoint> LoadNewestValid(const CheckpointRoot& root, const ResumeRequest& request);

}  // namespace tunefleet
