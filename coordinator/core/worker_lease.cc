#include "coordinator/core/worker_lease.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tunefleet::coordinator {

absl::Duration WorkerLeaseMargin(absl::Duration worker_timeout) {
  return std::max(worker_timeout / 10, absl::Milliseconds(250));
}

absl::StatusOr<absl::Duration> WorkerLease(absl::Duration worker_timeout, absl::Duration heartbeat_interval) {
  const absl::Duration lease = worker_timeout - WorkerLeaseMargin(worker_timeout);
  if (lease < 2 * heartbeat_interval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--worker-timeout ", absl::FormatDuration(worker_timeout), " leaves workers a lease of ",
        absl::FormatDuration(lease), " (the timeout less a margin of ",
        absl::FormatDuration(WorkerLeaseMargin(worker_timeout)), "), under two heartbeat intervals (",
        absl::FormatDuration(2 * heartbeat_interval),
        "): a worker would stop its trainers after one late heartbeat. Raise --worker-timeout or lower "
        "--heartbeat-interval"));
  }
  return lease;
}

}  // namespace tunefleet::coordinator
