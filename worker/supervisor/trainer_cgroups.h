#pragma once
// Each trainer in a cgroup v2 group of its own, beneath the worker's own
// group, bounded by memory.max and pids.max and removed when it ends. Where
// no such group can be made (cgroup v1, memory or pids not delegated, a
// read-only cgroupfs) Open says why and the worker runs trainers with
// rlimits only.
//
//   <worker's group>/            memory and pids enabled for its children
//     tunefleet-worker/          the worker itself: a group with children
//                                may not hold processes (cgroup v2's rule)
//     trainer-<job>-g<gen>-r<rank>/   one per trainer

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tunefleet::supervisor {

// The worker's own cgroup v2 directory: the "0::" line of `proc_self_cgroup`
// beneath the cgroup2 mount named in `mountinfo`. Parameters so a test can
// hand in its own files.
absl::StatusOr<std::string> OwnCgroupDirectory(const std::string& proc_self_cgroup = "/proc/self/cgroup",
                                               const std::string& mountinfo = "/proc/self/mountinfo");

class TrainerCgroups {
 public:
  // Checks `own_dir` offers the memory and pids controllers and that groups
  // can be made beneath it; enables them for its children, first moving the
  // worker into a leaf group of its own when its group holds processes.
  // `own_dir` is OwnCgroupDirectory() in production, a plain folder in tests.
  static absl::StatusOr<std::unique_ptr<TrainerCgroups>> Open(const std::string& own_dir);

  // Makes the group `name` (an existing one, left by a worker before this
  // one, is replaced) with its bounds (0: none); returns its directory.
  absl::StatusOr<std::string> Create(const std::string& name, uint64_t memory_max_bytes, uint64_t pids_max);
  // Whether the kernel's OOM killer killed a process in the group
  // (memory.events' oom_kill): read after the trainer exited, before Remove.
  bool OomKilled(const std::string& group) const;
  // Kills what is left in the group and removes it; one still busy (its
  // processes are dying) is retried by the next call.
  void Remove(const std::string& group);
  // Removes the groups that were still busy; the supervisor calls it each pass.
  void RetryRemovals();
  const std::vector<std::string>& pending_removals() const { return pending_; }

 private:
  explicit TrainerCgroups(std::string dir) : dir_(std::move(dir)) {}

  const std::string dir_;
  std::vector<std::string> pending_;
};

}  // namespace tunefleet::supervisor
