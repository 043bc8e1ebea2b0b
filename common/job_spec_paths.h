#pragma once
// Where a job may read and write: every path in a spec (model, data,
// checkpoints, export), checked by field so the error names it.
//
// Two checks, one list of fields:
// - the coordinator's, at submit (CheckPathsUnderRoots): by spelling (".."
//   cannot climb out of a root) and, where the path exists on the
//   coordinator's machine, by its real path (best effort: the coordinator
//   may not see the shared filesystem). The system trees (/, /etc, /proc,
//   /sys, /dev) are refused even when no roots are configured.
// - the trainer's, where the files are opened (OpenSpecPaths): every path
//   through the trainer's PathPolicy, links resolved at open beneath the
//   roots its worker gave it. This one is the enforcement; the
//   coordinator's is an early, clear answer to the submitter.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/fs/path_policy.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// OK when every non-empty path field is outside the system trees and, when
// `roots` is non-empty, absolute and under a root (by spelling and by real
// path where it exists); otherwise INVALID_ARGUMENT naming the field, the
// path and the roots.
absl::Status CheckPathsUnderRoots(const v1::JobSpec& spec, const std::vector<std::string>& roots);

// Opens every path field through `policy`: the model (a file or a folder)
// and the data files must open (regular files), the checkpoint and export
// folders must resolve beneath a root as far as they exist. Messages name
// the field.
absl::Status OpenSpecPaths(const v1::JobSpec& spec, const PathPolicy& policy);

}  // namespace tunefleet
