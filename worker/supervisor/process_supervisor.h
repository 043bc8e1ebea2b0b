#pragma once
// Child processes as the worker needs them: each in its own process group
// (so a stop reaches everything a trainer started), stdout and stderr appended
// to a log file, and tied to the worker's life with PR_SET_PDEATHSIG so no
// orphan keeps a GPU after the worker dies; resource limits and a cgroup
// applied in the child before exec, so the program never runs without them.

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tunefleet::supervisor {

// One setrlimit, soft and hard alike (RLIM_INFINITY: none). A value above
// the worker's own hard limit is lowered to it: raising one needs privilege.
struct ResourceLimit {
  decltype(RLIMIT_AS) resource;
  rlim_t value;
};

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is a path
  std::vector<std::pair<std::string, std::string>> env;  // added to the worker's environment
  std::string log_path;
  std::vector<ResourceLimit> limits;
  // A cgroup v2 directory the child joins before exec; empty: stay in the worker's.
  std::string cgroup;
};

// Forks and execs. Must be called from a thread that outlives the child
// (PDEATHSIG fires when the spawning thread exits): the worker's main loop.
absl::StatusOr<pid_t> Spawn(const ProcessSpec& spec);

// Non-blocking reap: the exit code (128 + signal when killed), or nullopt
// while it runs.
std::optional<int> PollExit(pid_t pid);

// Sends `signal` to the child's whole process group.
void SignalGroup(pid_t pid, int signal);

}  // namespace tunefleet::supervisor
