#pragma once
// Self-fencing (docs/control_plane.md, "Partitions and fencing"): the lease
// the coordinator granted at registration, renewed by every heartbeat that
// succeeds and counted from when that heartbeat was SENT (the coordinator
// counts its --worker-timeout from when it arrived, never earlier). When it
// runs out the worker's trainers must already be dead: they get SIGTERM a
// grace before its end and SIGKILL at its end, so by the time the
// coordinator declares this worker lost and places their job elsewhere, no
// stale rank of it still trains here.

#include <algorithm>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tunefleet::worker {

class SelfFencingLease {
 public:
  explicit SelfFencingLease(absl::Duration stop_grace) : stop_grace_(stop_grace) {}

  // A registration that succeeded: `lease` (zero: the coordinator gave none,
  // never fence), counted from `sent`.
  void Grant(absl::Duration lease, absl::Time sent) {
    lease_ = lease;
    renewed_ = sent;
  }
  // A heartbeat sent at `sent` succeeded.
  void Renew(absl::Time sent) { renewed_ = std::max(renewed_, sent); }

  bool active() const { return lease_ > absl::ZeroDuration(); }
  absl::Duration lease() const { return lease_; }
  absl::Time renewed() const { return renewed_; }
  // SIGTERM to SIGKILL: the worker's --stop-grace, at most a third of the
  // lease, so that ranks are first stopped well after a late heartbeat.
  absl::Duration grace() const { return std::min(stop_grace_, lease_ / 3); }
  absl::Time TermAt() const { return active() ? renewed_ + lease_ - grace() : absl::InfiniteFuture(); }
  absl::Time KillAt() const { return active() ? renewed_ + lease_ : absl::InfiniteFuture(); }
  bool Lapsing(absl::Time now) const { return now >= TermAt(); }

 private:
  const absl::Duration stop_grace_;
  absl::Duration lease_ = absl::ZeroDuration();
  absl::Time renewed_ = absl::InfinitePast();
};

}  // namespace tunefleet::worker
