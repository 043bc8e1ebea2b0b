#pragma once
// Finding a job's checkpoints on storage: which step folders exist, which
// are committed (have a manifest), and which of those verify.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/manifest.h"

namespace tunefleet {

// Where the library reports what it skipped or fell back from; the loop
// passes its logger. Null: stderr.
using CheckpointLog = std::function<void(const std::string& message)>;
void LogTo(const CheckpointLog& log, const std::string& message);

struct StepFolder {
  int64_t step = 0;
  std::string dir;
  bool committed = false;  // manifest.json present (not yet parsed or verified)
};

// Every step-<n> folder of the job, newest first. An absent job folder is
// an empty list.
absl::StatusOr<std::vector<StepFolder>> ListStepFolders(const CheckpointRoot& root);

struct CommittedCheckpoint {
  int64_t step = 0;
  std::string dir;
  Manifest manifest;
};

// The committed checkpoints, newest first, with their manifests parsed.
// A manifest that does not parse, fails its own checksum or names another
// step is reported to `log` (naming the file) and left out.
absl::StatusOr<std::vector<CommittedCheckpoint>> ListCommittedCheckpoints(const CheckpointRoot& root,
                                                                         const CheckpointLog& log = {});

// The manifest of one step folder; DATA_LOSS naming manifest.json if it is
// damaged, NOT_FOUND if the folder is not committed.
absl::StatusOr<Manifest> ReadManifest(const std::string& dir);

// Size and CRC32C of the named files (all of the manifest's when `names`
// is empty); the first mismatch, naming the file. NOT_FOUND for a name the
// manifest does not list.
absl::Status VerifyCheckpointFiles(const CommittedCheckpoint& checkpoint, const std::vector<std::string>& names = {});

// The newest committed checkpoint whose files all verify; every newer one
// that does not is logged with the reason. NOT_FOUND when none.
absl::StatusOr<CommittedCheckpoint> FindNewestValidCheckpoint(const CheckpointRoot& root,
                                                              const CheckpointLog& log = {});

}  // namespace tunefleet
