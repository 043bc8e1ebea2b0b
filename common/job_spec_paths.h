#pragma once
// Where a job may read and write: every path in a spec (model, data,
// checkpoints, export) must lie under one of the roots an operator allows
// (the coordinator's --allowed-path-roots), so a submitted job cannot make
// trainers read /etc or overwrite another team's checkpoints.
//
// The check is lexical ("/shared/a/../b" is "/shared/b"; ".." cannot climb
// out of a root). Symbolic links are not followed: the coordinator may not
// see the shared filesystem, and roots are meant to be mount points.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// OK when `roots` is empty (no restriction) or when every non-empty path
// field is absolute and under a root; otherwise INVALID_ARGUMENT naming the
// field, the path and the roots.
absl::Status CheckPathsUnderRoots(const v1::JobSpec& spec, const std::vector<std::string>& roots);

}  // namespace tunefleet
