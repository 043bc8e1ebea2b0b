#pragma once
// The commit protocol. Each rank, after writing and fsyncing its files,
// publishes rank-<r>.files.json (PublishRankFiles). Then ONE rank, once all
// ranks are done (after a barrier, or by waiting for their records on
// storage), calls CommitManifest: it checks every rank's files are there
// with the recorded sizes and writes manifest.json via .tmp + fsync +
// rename + directory fsync. Until that rename, the folder does not count.

#include <chrono>
#include <functional>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/manifest.h"

namespace tunefleet {

// Writes `record` as `dir`/rank-<r>.files.json, atomically.
absl::Status PublishRankFiles(const std::string& dir, const RankFilesRecord& record);

struct CommitRequest {
  int64_t step = 0;
  int world_size = 1;
  // Every rank's record must carry this id, so a record left by an earlier
  // attempt at the same step is never mistaken for this save's.
  std::string save_id;
  std::optional<double> loss;
  // 0: every rank must already be done (the caller ran a barrier). More:
  // poll storage for the missing ranks' records up to this long (the
  // asynchronous saver, which must not run collectives off the main thread).
  std::chrono::milliseconds wait_for_ranks{0};
  // Called after the records are gathered, just before the manifest is
  // written; an error refuses the commit. The loop uses it to fence off a
  // stale attempt (a newer generation has committed: see
  // trainer/train/checkpoint_identity.h).
  std::function<absl::Status()> fence;
  // Runs the manifest's rename (the commit point) it is handed, or refuses
  // without running it; null: the rename runs as is. The loop holds the
  // attempt fence's lock across its check and the rename (attempt_fence.h).
  std::function<absl::Status(const std::function<absl::Status()>& rename)> commit_guard;
  // What made the weights (common/lineage), recorded in the manifest.
  std::optional<Lineage> lineage;
};

// FAILED_PRECONDITION (or DEADLINE_EXCEEDED after a wait) naming the ranks
// whose records are missing or from another save; DATA_LOSS naming a file
// whose size differs from its record; ALREADY_EXISTS if the step is already
// committed. Returns the manifest it wrote.
absl::StatusOr<Manifest> CommitManifest(const CheckpointRoot& root, const CommitRequest& request);

}  // namespace tunefleet
