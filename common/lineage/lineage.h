#pragma once
// What made a model: content hashes (SHA-256) of a job's base model files,
// its datasets and its effective spec, with tunefleet's version. The trainer
// records them in every checkpoint manifest and beside every export
// (tunefleet_lineage.json); resume refuses a checkpoint whose model or data
// differ from what the new attempt reads; `tunefleet lineage DIR` prints them.

#include <string>

#include "absl/status/statusor.h"
#include "common/lineage/lineage_record.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// SHA-256 of a whole file opened through the installed path policy.
absl::StatusOr<ContentHash> HashUserFile(const std::string& role, const std::string& path);

// Hashes what `spec` reads: the model (one file, or every file of the model
// folder but hidden ones and sub-folders, sorted by name), the dataset and
// the validation file when set, and the spec itself. Errors name the file.
absl::StatusOr<Lineage> ComputeLineage(const v1::JobSpec& spec);

}  // namespace tunefleet
