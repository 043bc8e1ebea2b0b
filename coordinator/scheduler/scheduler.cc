#include "coordinator/scheduler/scheduler.h"

#include <algorithm>
#include <optional>

namespace tunefleet::scheduler {
namespace {

// Places one gang on `workers` (modified on success only), or returns nullopt.
std::optional<Placement> PlaceGang(const QueuedJob& job, std::vector<WorkerCapacity>& workers) {
  struct Candidate {
    size_t index;
    int32_t fits;
  };
  std::vector<Candidate> candidates;
  int32_t total = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].schedulable) continue;
    const int32_t fits = RanksThatFit(workers[i], job.gpus_per_rank);
    if (fits > 0) {
      candidates.push_back({i, fits});
      total += fits;
    }
  }
  if (total < job.world_size) return std::nullopt;

  // Fewest workers: take the largest first; for the last piece (or the whole
  // gang), the smallest worker that holds it, which keeps big holes for big jobs.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.fits > b.fits; });
  std::vector<std::pair<size_t, int32_t>> chosen;  // worker index, ranks
  int32_t remaining = job.world_size;
  size_t next = 0;
  while (remaining > 0) {
    // Best fit among the unchosen: smallest that holds all that remains.
    std::optional<size_t> best;
    for (size_t c = next; c < candidates.size(); ++c) {
      if (candidates[c].fits >= remaining && (!best || candidates[c].fits < candidates[*best].fits)) best = c;
    }
    if (best) {
      chosen.emplace_back(candidates[*best].index, remaining);
      remaining = 0;
    } else {
      chosen.emplace_back(candidates[next].index, candidates[next].fits);
      remaining -= candidates[next].fits;
      ++next;
    }
  }

  Placement placement;
  placement.job = job.id;
  int32_t rank = 0;
  for (const auto& [index, ranks] : chosen) {
    WorkerCapacity& worker = workers[index];
    for (int32_t r = 0; r < ranks; ++r) {
      RankSlot slot;
      slot.rank = rank++;
      slot.worker = worker.id;
      if (job.gpus_per_rank > 0) {
        slot.gpu_indices.assign(worker.free_gpus.begin(), worker.free_gpus.begin() + job.gpus_per_rank);
        worker.free_gpus.erase(worker.free_gpus.begin(), worker.free_gpus.begin() + job.gpus_per_rank);
      } else {
        --worker.free_cpu_slots;
      }
      placement.ranks.push_back(std::move(slot));
    }
  }
  return placement;
}

}  // namespace

int32_t RanksThatFit(const WorkerCapacity& worker, int32_t gpus_per_rank) {
  if (gpus_per_rank > 0) return static_cast<int32_t>(worker.free_gpus.size()) / gpus_per_rank;
  return std::max(worker.free_cpu_slots, 0);
}

Decision Schedule(std::vector<QueuedJob> queue, std::vector<WorkerCapacity> workers, absl::Time now,
                  const Options& options) {
  std::stable_sort(queue.begin(), queue.end(), [](const QueuedJob& a, const QueuedJob& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.order < b.order;
  });
  // Deterministic placement whatever order the caller lists workers in.
  std::sort(workers.begin(), workers.end(),
            [](const WorkerCapacity& a, const WorkerCapacity& b) { return a.id < b.id; });
  // Free slots over all schedulable workers, kept current as gangs are
  // placed: a gang larger than the total cannot fit, and is known not to
  // without scanning every worker (a full cluster with a long queue would
  // otherwise cost queue x workers per pass).
  int64_t free_cpu = 0, free_gpus = 0;
  for (const WorkerCapacity& w : workers) {
    if (!w.schedulable) continue;
    free_cpu += std::max(w.free_cpu_slots, 0);
    free_gpus += static_cast<int64_t>(w.free_gpus.size());
  }
  Decision decision;
  for (const QueuedJob& job : queue) {
    const bool gpu = job.gpus_per_rank > 0;
    const int64_t need = static_cast<int64_t>(job.world_size) * (gpu ? job.gpus_per_rank : 1);
    if (need <= (gpu ? free_gpus : free_cpu)) {
      if (auto placement = PlaceGang(job, workers)) {
        (gpu ? free_gpus : free_cpu) -= need;
        decision.placements.push_back(std::move(*placement));
        continue;
      }
    }
    if (now - job.queued_since >= options.reserve_after) {
      decision.reserved_for = job.id;
      break;  // the reservation: nothing behind it may take what it waits for
    }
  }
  return decision;
}

}  // namespace tunefleet::scheduler
