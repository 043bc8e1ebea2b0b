#pragma once
// Acting on a job's step folders (removing one, moving a damaged one aside)
// through the job folder opened once beneath the allowed roots, never by a
// path looked up again: a step folder swapped for a symbolic link inside the
// checkpoint directory is unlinked or renamed as a link, never followed.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/checkpoint/checkpoint_layout.h"

namespace tunefleet {

// Uncommits the step folder `name` of `root`'s job (unlinks its manifest and
// fsyncs the folder), then removes it: a crash half-way leaves an
// uncommitted folder, never a committed checkpoint with files missing.
absl::Status RemoveStepFolder(const CheckpointRoot& root, const std::string& name);

// Renames the step folder `name` to `<name>.damaged-<n>` (the first n free,
// renameat2 RENAME_NOREPLACE: no check-then-rename) and returns the new name.
absl::StatusOr<std::string> MoveStepFolderAside(const CheckpointRoot& root, const std::string& name);

}  // namespace tunefleet
