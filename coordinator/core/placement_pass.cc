#include "coordinator/core/placement_pass.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/proto_time.h"

namespace tunefleet::coordinator {
namespace {

// Whether a gang fits in this much free capacity: its GPUs, or its CPU
// slots when it asks for no GPU.
bool FitsIn(const v1::JobSpec& spec, int64_t free_gpus, int64_t free_cpu) {
  const auto& resources = spec.resources();
  const bool gpu = resources.gpus_per_rank() > 0;
  return static_cast<int64_t>(resources.world_size()) * (gpu ? resources.gpus_per_rank() : 1) <=
         (gpu ? free_gpus : free_cpu);
}

}  // namespace

bool PlacementPass::MayFitNow(const v1::JobSpec& spec) const {
  return FitsIn(spec, free_gpus_, free_cpu_);
}

void PlacementPass::LimitGroup(const std::string& group, int32_t max_running) {
  if (max_running > 0) {
    group_limits_[group] = max_running;
  } else {
    group_limits_.erase(group);
  }
  wanted_ = true;
}

std::optional<scheduler::Decision> PlacementPass::Decide(const JobTable& jobs, const WorkerRegistry& workers,
                                                         absl::Time now) {
  if (!wanted_ && now < next_timed_) return std::nullopt;
  wanted_ = false;
  next_timed_ = absl::InfiniteFuture();
  std::vector<scheduler::WorkerCapacity> capacity;
  capacity.reserve(workers.size());
  int64_t free_gpus = 0, free_cpu = 0;
  for (const auto& [name, worker] : workers) {
    capacity.push_back(workers.Capacity(worker));
    if (!capacity.back().schedulable) continue;
    free_gpus += static_cast<int64_t>(capacity.back().free_gpus.size());
    free_cpu += std::max(capacity.back().free_cpu_slots, 0);
  }
  std::vector<scheduler::QueuedJob> queue;
  const std::set<std::string> held = HeldByGroupLimits(jobs);
  // The queue is kept in the scheduler's order (priority, then submission),
  // so the pass reads the QUEUED jobs only, not every job.
  for (const auto& [key, entry_pointer] : jobs.queue()) {
    const std::string& name = std::get<2>(key);
    const JobEntry& entry = *entry_pointer;
    if (held.count(name)) continue;  // its sweep runs as many as it may
    if (entry.job.has_not_before()) {
      const absl::Time not_before = FromProtoTime(entry.job.not_before());
      if (not_before > now) {  // backing off
        next_timed_ = std::min(next_timed_, not_before);
        continue;
      }
    }
    const auto& resources = entry.job.spec().resources();
    const absl::Time reserves_at = entry.queued_since + options_.reserve_after;
    // Past reserve_after a job that does not fit holds a reservation: a change to the answer.
    if (reserves_at > now) next_timed_ = std::min(next_timed_, reserves_at);
    // A gang larger than all free capacity cannot be placed this pass (free
    // capacity only shrinks as the pass places), and one that does not hold
    // a reservation yet changes nothing by waiting: the scheduler would pass
    // it over, so it is not offered. On a full cluster the queue is empty.
    if (!FitsIn(entry.job.spec(), free_gpus, free_cpu) && reserves_at > now) continue;
    scheduler::QueuedJob q;
    q.id = name;
    q.priority = entry.job.spec().priority();
    q.order = entry.order;
    q.world_size = resources.world_size();
    q.gpus_per_rank = resources.gpus_per_rank();
    q.queued_since = entry.queued_since;
    queue.push_back(std::move(q));
  }
  free_gpus_ = free_gpus;
  free_cpu_ = free_cpu;
  if (queue.empty()) return scheduler::Decision{};
  scheduler::Decision decision = scheduler::Schedule(std::move(queue), std::move(capacity), now, options_);
  for (const scheduler::Placement& placement : decision.placements) {
    for (const scheduler::RankSlot& slot : placement.ranks) {
      if (slot.gpu_indices.empty()) {
        --free_cpu_;
      } else {
        free_gpus_ -= static_cast<int64_t>(slot.gpu_indices.size());
      }
    }
  }
  return decision;
}

void PlacementPass::NotSaved() {
  next_timed_ = absl::InfinitePast();
  free_gpus_ = free_cpu_ = std::numeric_limits<int64_t>::max();
}

std::set<std::string> PlacementPass::HeldByGroupLimits(const JobTable& jobs) const {
  std::set<std::string> held;
  if (group_limits_.empty()) return held;
  std::map<std::string, int64_t> room;
  for (const auto& [group, limit] : group_limits_) room[group] = limit;
  for (const auto& [name, entry] : jobs) {
    if (entry.job.state() != v1::JOB_STATE_RUNNING) continue;
    if (auto it = room.find(entry.job.sweep()); it != room.end()) --it->second;
  }
  // In submission order, so a sweep's points start in grid order.
  for (const auto& [order, name] : jobs.by_order()) {
    const JobEntry* entry = jobs.Find(name);
    if (entry == nullptr || entry->job.state() != v1::JOB_STATE_QUEUED) continue;
    auto group = room.find(entry->job.sweep());
    if (group == room.end()) continue;
    if (group->second > 0) {
      --group->second;
    } else {
      held.insert(name);
    }
  }
  return held;
}

}  // namespace tunefleet::coordinator
