#pragma once
// Saving: one call per rank writes that rank's files, then one rank
// commits. Synchronous; AsyncCheckpointSaver runs the same calls on a
// background thread.

#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/encryption_key.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/manifest.h"
#include "trainer/checkpoint/rank_state.h"

namespace tunefleet {

// Writes this rank's files into <root>/<job>/step-<trainer_state.step>/
// (weights if any, its optimizer shard if any, its trainer state), each
// atomically with its CRC32C, then publishes rank-<r>.files.json.
// ALREADY_EXISTS if that step is already committed; OS errors (ENOSPC...)
// keep their code and name the file. No partial file is left under a
// final name. With `encryption`, every data file (weights, optimizer
// shard, trainer state) is encrypted under its current key; the rank
// record and the manifest stay plaintext (encrypted_files.h says why).
absl::StatusOr<RankFilesRecord> WriteRankFiles(const CheckpointRoot& root, const RankCheckpointState& state,
                                               const WriteProgressHook& hook = {},
                                               const crypto::KeyRing* encryption = nullptr);

// The whole synchronous save for one rank: WriteRankFiles, then
// `barrier()` (the loop's collective), then CommitManifest on `commit_rank`.
// Returns the manifest on the committing rank, nullopt on the others. A
// rank whose write failed still enters the barrier (so no rank hangs) and
// then returns its error; the committing rank then fails to commit, naming
// the missing rank.
absl::StatusOr<std::optional<Manifest>> SaveCheckpoint(const CheckpointRoot& root, const RankCheckpointState& state,
                                                       const std::function<absl::Status()>& barrier,
                                                       std::optional<double> loss = std::nullopt,
                                                       int commit_rank = 0,
                                                       const crypto::KeyRing* encryption = nullptr);

}  // namespace tunefleet
