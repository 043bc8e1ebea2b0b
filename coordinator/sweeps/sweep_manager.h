#pragma once
// SweepService's side of the coordinator: a sweep is a group of jobs over a
// grid (common/sweep_grid.h). The manager owns the sweeps (their rows in the
// Store, a copy in memory); the member jobs are ordinary jobs of the control
// plane, created with the sweep's row in one transaction (write, then apply)
// and run at most max_concurrent at once (ControlPlane::JobGroup).
//
// Lock order: the manager's mutex, then the control plane's.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/core/control_plane.h"
#include "tunefleet/v1/sweep_service.pb.h"

namespace tunefleet::coordinator::sweeps {

class SweepManager {
 public:
  // Reads every sweep back from the plane's Store and gives the plane their
  // running limits again (after a restart); call before the first Tick.
  static absl::StatusOr<std::unique_ptr<SweepManager>> Create(ControlPlane& plane,
                                                              std::function<absl::Time()> clock = absl::Now);

  // INVALID_ARGUMENT naming the axis, value or point; RESOURCE_EXHAUSTED past
  // the owner's active-job quota (every point counts); UNAVAILABLE when it
  // could not be saved (nothing was). A retry with the same request_id
  // returns the same sweep.
  absl::StatusOr<v1::Sweep> CreateSweep(const v1::CreateSweepRequest& request, const std::string& owner);
  // With each point's progress, the state and the best point.
  absl::StatusOr<v1::Sweep> GetSweep(const std::string& name);
  absl::StatusOr<v1::ListSweepsResponse> ListSweeps(const v1::ListSweepsRequest& request);
  // Cancels every member not yet ended, the waiting ones first so none of
  // them starts meanwhile. UNAVAILABLE when a write failed: a retry goes on
  // where it stopped.
  absl::StatusOr<v1::Sweep> CancelSweep(const std::string& name);
  // The sweep's owner (for the owner-or-operator check); NOT_FOUND when none.
  absl::StatusOr<std::string> OwnerOf(const std::string& name);

 private:
  SweepManager(ControlPlane& plane, std::function<absl::Time()> clock) : plane_(plane), clock_(std::move(clock)) {}
  absl::StatusOr<v1::Sweep*> Find(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The sweep with its members' progress, state and best point.
  absl::StatusOr<v1::Sweep> View(const v1::Sweep& sweep);

  ControlPlane& plane_;
  const std::function<absl::Time()> clock_;
  absl::Mutex mu_;  // before the plane's
  std::map<std::string, v1::Sweep> sweeps_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // names, oldest first
  std::map<std::string, std::string> request_ids_ ABSL_GUARDED_BY(mu_);  // -> name
};

}  // namespace tunefleet::coordinator::sweeps
