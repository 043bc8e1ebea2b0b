#pragma once
// Gang placement: which queued jobs start now, and on which workers.
//
// Pure: takes a snapshot of the queue and of each worker's free capacity and
// returns placements, so every policy below is unit-tested without a server.
//
// Policy
// - Order: higher priority first, FIFO (submission order) within a priority.
// - Gangs: a job's ranks are placed all together or not at all.
// - Capacity: a rank takes `gpus_per_rank` GPUs on a GPU worker, or one CPU
//   slot when gpus_per_rank is 0. Placements made in this pass count at once.
// - Packing: a job goes onto as few workers as possible: the smallest worker
//   that holds the whole gang, else the largest workers first.
// - Anti-starvation: a job that does not fit does not stop smaller jobs
//   behind it (backfill) until it has waited `reserve_after`; from then on it
//   reserves the cluster: nothing behind it is placed until it fits, so a
//   stream of small jobs cannot starve a large one forever.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tunefleet::scheduler {

struct QueuedJob {
  std::string id;
  int32_t priority = 0;
  int64_t order = 0;  // submission order, for FIFO
  int32_t world_size = 1;
  int32_t gpus_per_rank = 0;  // 0: one CPU slot per rank
  absl::Time queued_since;
};

struct WorkerCapacity {
  std::string id;
  std::vector<int32_t> free_gpus;  // indices
  int32_t free_cpu_slots = 0;
  bool schedulable = true;  // false when cordoned, draining or lost
};

struct RankSlot {
  int32_t rank = 0;
  std::string worker;
  std::vector<int32_t> gpu_indices;  // empty on CPU
};

struct Placement {
  std::string job;
  std::vector<RankSlot> ranks;  // rank order
};

struct Options {
  absl::Duration reserve_after = absl::Minutes(5);
};

struct Decision {
  std::vector<Placement> placements;
  // The job holding a reservation this pass (empty when none).
  std::string reserved_for;
};

Decision Schedule(std::vector<QueuedJob> queue, std::vector<WorkerCapacity> workers, absl::Time now,
                  const Options& options);

// Whether `job` could ever fit on these workers were they all empty: a gang
// bigger than the whole cluster waits forever otherwise.
int32_t RanksThatFit(const WorkerCapacity& worker, int32_t gpus_per_rank);

}  // namespace tunefleet::scheduler
