#pragma once
// A sweep's view from its members: each point's state and losses, the
// sweep's state, and the best point by its objective. Pure: the manager reads
// the member jobs, this decides what they mean.

#include <string>

#include "tunefleet/v1/job.pb.h"
#include "tunefleet/v1/sweep_service.pb.h"

namespace tunefleet::coordinator::sweeps {

// Copies what GetSweep shows of `job` into `point`.
void FillPoint(const v1::Job& job, v1::SweepPoint& point);

// Sets the sweep's state and best_job from its filled points:
//   RUNNING until every member ended; then CANCELLED when CancelSweep was
//   called or a member was cancelled, else FAILED when a member failed, else
//   SUCCEEDED. The best point: the lowest objective metric among SUCCEEDED
//   members that reported it (the first in grid order on a tie).
void Summarize(v1::Sweep& sweep);

}  // namespace tunefleet::coordinator::sweeps
