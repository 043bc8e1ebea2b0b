#pragma once
// The lease the coordinator grants each worker at registration (issue 16,
// item 8; docs/control_plane.md, "Partitions and fencing"). A worker that has
// had no successful heartbeat for its lease, counted from when it sent the
// last one that succeeded, has already killed its trainers: it SIGTERMs them
// a grace before the lease ends and SIGKILLs them at its end. The coordinator
// counts --worker-timeout from when that heartbeat arrived (never earlier than
// it was sent), so with lease = timeout - margin a partitioned worker's ranks
// are dead at least `margin` before the coordinator declares the worker LOST
// and places their job elsewhere: two attempts of a job never run at once.

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tunefleet::coordinator {

// What the margin covers: the worker loop's poll (100 ms), reaping a
// SIGKILLed rank, and the two machines' clocks running at slightly
// different rates over the timeout.
absl::Duration WorkerLeaseMargin(absl::Duration worker_timeout);

// worker_timeout - WorkerLeaseMargin(worker_timeout). INVALID_ARGUMENT when
// that leaves less than two heartbeat intervals: a worker would kill its
// trainers after a single late heartbeat. The coordinator refuses to start
// with such settings.
absl::StatusOr<absl::Duration> WorkerLease(absl::Duration worker_timeout, absl::Duration heartbeat_interval);

}  // namespace tunefleet::coordinator
