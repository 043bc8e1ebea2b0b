#pragma once
// The resources one trainer may take (docs/operations.md, "Trainer limits"):
// rlimits set in the child before exec, and the bounds of its cgroup where
// the worker can make one. A backstop against a runaway or hostile job taking
// the node (its memory, its process table, its file descriptors), not a
// scheduler: each trainer gets the same bounds.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/supervisor/process_supervisor.h"

namespace tunefleet::supervisor {

struct TrainerLimits {
  // RLIMIT_AS of a CPU rank, bytes; 0: none. Never set on a GPU rank: CUDA
  // reserves virtual ranges far beyond any memory (unified addressing).
  uint64_t address_space_bytes = 0;
  uint64_t open_files = 4096;  // RLIMIT_NOFILE
  // The trainer's own cgroup (when the worker can make one): memory.max in
  // bytes (0: none) and pids.max (processes and threads; 0: none).
  uint64_t memory_max_bytes = 0;
  uint64_t pids_max = 4096;
};

// The rlimits of one trainer: address space (CPU ranks only), open files,
// and no core files (a core would hold weights and the encryption key).
std::vector<ResourceLimit> TrainerRlimits(const TrainerLimits& limits, bool uses_gpu);

// Physical memory of this machine, bytes.
uint64_t PhysicalMemoryBytes();

// "8G", "512M", "1.5T", "123456" (bytes; K, M, G, T are powers of 1024),
// "50%" (of `machine_bytes`), or "0"/"off" for none. `flag` names the flag in
// the error.
absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text, uint64_t machine_bytes,
                                         absl::string_view flag);

std::string FormatBytes(uint64_t bytes);  // "8 GiB", "1.5 GiB", "300 MiB"

// Why a trainer that was not asked to stop ended, for its rank's message and
// so the job's failure reason: names the limit a memory failure met. Empty
// when the code says nothing more than itself.
std::string ExitReason(int exit_code, bool oom_killed_in_cgroup, const TrainerLimits& limits, bool uses_gpu);

}  // namespace tunefleet::supervisor
