#pragma once
// The documented defaults of every JobSpec field (docs/job_spec.md), in one place.

#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// Returns `spec` with every unset field at its default. Idempotent.
v1::JobSpec WithDefaults(v1::JobSpec spec);

}  // namespace tunefleet
