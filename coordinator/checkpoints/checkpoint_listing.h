#pragma once
// ListCheckpoints' reading of a job's committed checkpoints on the shared
// volume: <directory>/<job id>/step-<n>/manifest.json (docs/checkpoints.md).
// Read here with nlohmann_json because tunefleet_checkpoint_core is not built
// with TUNEFLEET_BUILD_TRAINER=OFF. The manifest's presence commits a folder;
// its files' checksums are not verified here (the trainer does that on load).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet::coordinator {

// Newest first. An absent job folder is an empty list; a manifest that does
// not parse is left out.
absl::StatusOr<std::vector<v1::Checkpoint>> ListCommittedCheckpoints(const std::string& directory,
                                                                     const std::string& job_name);

}  // namespace tunefleet::coordinator
