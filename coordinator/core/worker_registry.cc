#include "coordinator/core/worker_registry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "coordinator/core/resource_name.h"

namespace tunefleet::coordinator {

WorkerEntry* WorkerRegistry::Find(const std::string& name) {
  auto it = workers_.find(name);
  return it == workers_.end() ? nullptr : &it->second;
}

const WorkerEntry* WorkerRegistry::Find(const std::string& name) const {
  auto it = workers_.find(name);
  return it == workers_.end() ? nullptr : &it->second;
}

absl::StatusOr<WorkerEntry*> WorkerRegistry::Get(const std::string& name) {
  if (auto s = CheckResourceName(name, "workers"); !s.ok()) return s;
  WorkerEntry* worker = Find(name);
  if (worker == nullptr) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return worker;
}

WorkerEntry& WorkerRegistry::FindOrAdd(const std::string& name) { return workers_[name]; }

bool WorkerRegistry::Remove(const std::string& name) {
  if (HasRanks(name)) return false;
  heartbeats_missed_.erase(name);
  return workers_.erase(name) > 0;
}

void WorkerRegistry::CountMissedHeartbeats(WorkerEntry& worker, absl::Time now) {
  if (worker.worker.state() == v1::WORKER_STATE_LOST || heartbeat_interval_ <= absl::ZeroDuration()) return;
  const int64_t missed = static_cast<int64_t>(
      std::max(0.0, std::floor(absl::FDivDuration(now - worker.last_seen, heartbeat_interval_) - 0.5)));
  if (missed <= worker.missed_in_gap) return;
  heartbeats_missed_[worker.worker.name()] += missed - worker.missed_in_gap;
  worker.missed_in_gap = missed;
}

void WorkerRegistry::Heard(WorkerEntry& worker, absl::Time now) {
  CountMissedHeartbeats(worker, now);
  worker.last_seen = now;
  worker.missed_in_gap = 0;
}

int64_t WorkerRegistry::HeartbeatsMissed(const std::string& name) const {
  auto it = heartbeats_missed_.find(name);
  return it == heartbeats_missed_.end() ? 0 : it->second;
}

void WorkerRegistry::AddRank(const std::string& job, const std::string& worker, const std::vector<int32_t>& gpus) {
  Usage& usage = usage_[worker];
  ++usage.ranks_of_job[job];
  if (gpus.empty()) ++usage.cpu_ranks;
  for (int32_t gpu : gpus) ++usage.gpu_ranks[gpu];
}

void WorkerRegistry::RemoveRank(const std::string& job, const std::string& worker,
                                const std::vector<int32_t>& gpus) {
  auto it = usage_.find(worker);
  if (it == usage_.end()) return;
  Usage& usage = it->second;
  if (auto j = usage.ranks_of_job.find(job); j != usage.ranks_of_job.end() && --j->second <= 0) {
    usage.ranks_of_job.erase(j);
  }
  if (gpus.empty()) --usage.cpu_ranks;
  for (int32_t gpu : gpus) {
    if (auto g = usage.gpu_ranks.find(gpu); g != usage.gpu_ranks.end() && --g->second <= 0) usage.gpu_ranks.erase(g);
  }
  if (usage.ranks_of_job.empty()) usage_.erase(it);
}

scheduler::WorkerCapacity WorkerRegistry::Capacity(const WorkerEntry& worker) const {
  scheduler::WorkerCapacity capacity;
  capacity.id = worker.worker.name();
  capacity.schedulable = worker.worker.state() == v1::WORKER_STATE_READY;
  static const Usage kIdle;
  auto found = usage_.find(capacity.id);
  const Usage& usage = found == usage_.end() ? kIdle : found->second;
  int32_t busy_cpu = usage.cpu_ranks;
  for (const StoppingRanks& stopping : worker.stopping) busy_cpu += stopping.cpu_slots;
  const auto stopping_holds = [&](int32_t gpu) {
    for (const StoppingRanks& stopping : worker.stopping) {
      if (std::find(stopping.gpus.begin(), stopping.gpus.end(), gpu) != stopping.gpus.end()) return true;
    }
    return false;
  };
  const auto& gpus = worker.worker.resources().gpus();
  capacity.free_gpus.reserve(gpus.size());
  for (const auto& gpu : gpus) {
    if (!usage.gpu_ranks.count(gpu.index()) && !stopping_holds(gpu.index())) capacity.free_gpus.push_back(gpu.index());
  }
  capacity.free_cpu_slots = worker.worker.resources().cpu_slots() - busy_cpu;
  return capacity;
}

v1::Worker WorkerRegistry::View(const WorkerEntry& worker) const {
  v1::Worker view = worker.worker;
  const scheduler::WorkerCapacity free = Capacity(worker);
  const int32_t gpus = view.resources().gpus_size();
  view.set_slots_total(gpus > 0 ? gpus : view.resources().cpu_slots());
  view.set_slots_busy(view.slots_total() -
                      (gpus > 0 ? static_cast<int32_t>(free.free_gpus.size()) : free.free_cpu_slots));
  view.clear_jobs();
  ForEachJobOn(view.name(), [&](const std::string& name) { view.add_jobs(name); });
  return view;
}

}  // namespace tunefleet::coordinator
