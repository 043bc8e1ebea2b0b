#pragma once
// How one assigned rank becomes a trainer command line: pure, so the
// environment contract with the trainer is tested without starting anything.
//
//   <trainer> train --spec <attempt dir>/spec.json --metrics-out <rank>.metrics.jsonl
//             [--allowed-root DIR]... [--denied-path PATH]... [--allow-any-path]
//   env: RANK WORLD_SIZE LOCAL_RANK MASTER_ADDR MASTER_PORT (multi-rank only),
//        CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER=PCI_BUS_ID (GPU ranks),
//        TUNEFLEET_JOB/ATTEMPT/GENERATION, TUNEFLEET_ENCRYPTION_KEY_FILE (when
//        the worker has a key: the path only, never the key).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tunefleet/v1/worker.pb.h"
#include "worker/supervisor/process_supervisor.h"

namespace tunefleet::supervisor {

// Where an attempt's files live under the worker's work directory.
std::string AttemptDirectory(const std::string& work_dir, const std::string& job, int64_t attempt);

// Where a trainer may open the job's paths (docs/security.md): the worker's
// roots, the trees inside them jobs never open, or the operator's escape
// hatch. What TrainerProcess appends to every trainer's command line.
struct TrainerPathPolicy {
  std::vector<std::string> allowed_roots;
  std::vector<std::string> denied_paths;
  bool allow_any_path = false;
};
std::vector<std::string> TrainerPathFlags(const TrainerPathPolicy& policy);

// The worker's policy from its flags, confinement on by default: no
// --allowed-root means `work_dir` (absolute); roots are made absolute and
// normal; `<work_dir>/jobs` (specs and rank logs of every job) is always
// denied. Each root is checked to open and to be no system tree (/, /etc,
// /proc, /sys, /dev): INVALID_ARGUMENT naming --allowed-root otherwise.
absl::StatusOr<TrainerPathPolicy> WorkerPathPolicy(TrainerPathPolicy given, const std::string& work_dir);

// The process for the `index`-th rank of `assignment` (its local rank).
// `encryption_key_file`: the worker's key file, empty for none.
ProcessSpec TrainerProcess(const std::string& trainer, const v1::Assignment& assignment, int index,
                           const std::string& attempt_dir, const TrainerPathPolicy& paths = {},
                           const std::string& encryption_key_file = "");

std::string MetricsPath(const std::string& attempt_dir, int32_t rank);

}  // namespace tunefleet::supervisor
