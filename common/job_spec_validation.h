#pragma once
// Static checks of a JobSpec: each error is INVALID_ARGUMENT naming the field.
// Checks that need the cluster (enough slots) or the filesystem belong to
// their owners (scheduler, trainer).

#include "absl/status/status.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// Validates a spec that has been through WithDefaults().
absl::Status ValidateJobSpec(const v1::JobSpec& spec);

}  // namespace tunefleet
