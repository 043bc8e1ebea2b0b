#include "coordinator/core/worker_registry.h"

#include <gtest/gtest.h>

namespace tunefleet::coordinator {
namespace {

WorkerEntry& AddWorker(WorkerRegistry& registry, const std::string& name, int gpus, int cpu_slots,
                       v1::WorkerState state = v1::WORKER_STATE_READY) {
  WorkerEntry& entry = registry.FindOrAdd(name);
  entry.worker.set_name(name);
  entry.worker.set_state(state);
  for (int g = 0; g < gpus; ++g) entry.worker.mutable_resources()->add_gpus()->set_index(g);
  entry.worker.mutable_resources()->set_cpu_slots(cpu_slots);
  return entry;
}

// The jobs ForEachJobOn visits on `worker`, in order.
std::vector<std::string> JobsOn(const WorkerRegistry& registry, const std::string& worker) {
  std::vector<std::string> jobs;
  registry.ForEachJobOn(worker, [&](const std::string& job) { jobs.push_back(job); });
  return jobs;
}

TEST(WorkerRegistry, FreeCapacityFollowsRanksAddedAndRemoved) {
  WorkerRegistry registry(absl::Seconds(3));
  WorkerEntry& worker = AddWorker(registry, "workers/a", 4, 0);
  EXPECT_EQ(registry.Capacity(worker).free_gpus, (std::vector<int32_t>{0, 1, 2, 3}));

  registry.AddRank("jobs/x", "workers/a", {0, 1});
  registry.AddRank("jobs/x", "workers/a", {2});
  registry.AddRank("jobs/y", "workers/b", {0});  // another worker: nothing here
  EXPECT_EQ(registry.Capacity(worker).free_gpus, (std::vector<int32_t>{3}));
  EXPECT_EQ(JobsOn(registry, "workers/a"), (std::vector<std::string>{"jobs/x"}));

  registry.RemoveRank("jobs/x", "workers/a", {0, 1});
  EXPECT_EQ(registry.Capacity(worker).free_gpus, (std::vector<int32_t>{0, 1, 3}));
  EXPECT_TRUE(registry.HasRanks("workers/a")) << "one rank of jobs/x is still there";
  registry.RemoveRank("jobs/x", "workers/a", {2});
  EXPECT_EQ(registry.Capacity(worker).free_gpus, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_FALSE(registry.HasRanks("workers/a"));
  EXPECT_TRUE(JobsOn(registry, "workers/a").empty());
}

TEST(WorkerRegistry, CpuSlotsAndStoppingRanksAreBusy) {
  WorkerRegistry registry(absl::Seconds(3));
  WorkerEntry& worker = AddWorker(registry, "workers/c", 2, 4);
  registry.AddRank("jobs/x", "workers/c", {});
  registry.AddRank("jobs/x", "workers/c", {});
  worker.stopping.push_back(StoppingRanks{"jobs/old", 3, 1, {1}});
  const scheduler::WorkerCapacity capacity = registry.Capacity(worker);
  EXPECT_EQ(capacity.free_cpu_slots, 4 - 2 - 1);
  EXPECT_EQ(capacity.free_gpus, (std::vector<int32_t>{0})) << "GPU 1 is held until its rank is confirmed dead";
  EXPECT_TRUE(capacity.schedulable);
}

TEST(WorkerRegistry, OnlyReadyWorkersAreSchedulable) {
  WorkerRegistry registry(absl::Seconds(3));
  for (auto state : {v1::WORKER_STATE_CORDONED, v1::WORKER_STATE_DRAINING, v1::WORKER_STATE_DRAINED,
                     v1::WORKER_STATE_LOST}) {
    WorkerEntry& worker = AddWorker(registry, "workers/" + v1::WorkerState_Name(state), 1, 0, state);
    EXPECT_FALSE(registry.Capacity(worker).schedulable) << v1::WorkerState_Name(state);
  }
}

TEST(WorkerRegistry, ViewCountsBusySlotsAndNamesTheJobs) {
  WorkerRegistry registry(absl::Seconds(3));
  WorkerEntry& worker = AddWorker(registry, "workers/a", 8, 0);
  registry.AddRank("jobs/x", "workers/a", {0, 1, 2});
  registry.AddRank("jobs/y", "workers/a", {5});
  const v1::Worker view = registry.View(worker);
  EXPECT_EQ(view.slots_total(), 8);
  EXPECT_EQ(view.slots_busy(), 4);
  ASSERT_EQ(view.jobs_size(), 2);
  EXPECT_EQ(view.jobs(0), "jobs/x");
  EXPECT_EQ(view.jobs(1), "jobs/y");
}

TEST(WorkerRegistry, CountsEachMissedHeartbeatOnce) {
  WorkerRegistry registry(absl::Seconds(2));
  WorkerEntry& worker = AddWorker(registry, "workers/a", 0, 1);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  worker.last_seen = t0;  // registered
  registry.CountMissedHeartbeats(worker, t0 + absl::Seconds(2.9));  // 1.45 intervals: within the jitter
  EXPECT_EQ(registry.HeartbeatsMissed("workers/a"), 0);
  registry.CountMissedHeartbeats(worker, t0 + absl::Seconds(3.1));  // past 1.5
  registry.CountMissedHeartbeats(worker, t0 + absl::Seconds(4));    // the same crossing again
  EXPECT_EQ(registry.HeartbeatsMissed("workers/a"), 1);
  registry.Heard(worker, t0 + absl::Seconds(7.5));  // 3.75 intervals: 3 crossings in all
  EXPECT_EQ(registry.HeartbeatsMissed("workers/a"), 3);
  registry.CountMissedHeartbeats(worker, t0 + absl::Seconds(8));  // a fresh gap starts at the heartbeat
  EXPECT_EQ(registry.HeartbeatsMissed("workers/a"), 3);

  worker.worker.set_state(v1::WORKER_STATE_LOST);
  registry.CountMissedHeartbeats(worker, t0 + absl::Minutes(10));
  EXPECT_EQ(registry.HeartbeatsMissed("workers/a"), 3) << "a LOST worker misses nothing more";
}

TEST(WorkerRegistry, RemoveRefusesAWorkerWithRanksAndForgetsItsCounters) {
  WorkerRegistry registry(absl::Seconds(1));
  WorkerEntry& worker = AddWorker(registry, "workers/a", 1, 0);
  registry.Heard(worker, absl::FromUnixSeconds(0));
  registry.CountMissedHeartbeats(worker, absl::FromUnixSeconds(5));
  ASSERT_GT(registry.HeartbeatsMissed("workers/a"), 0);
  registry.AddRank("jobs/x", "workers/a", {0});
  EXPECT_FALSE(registry.Remove("workers/a"));
  EXPECT_NE(registry.Find("workers/a"), nullptr);
  registry.RemoveRank("jobs/x", "workers/a", {0});
  EXPECT_TRUE(registry.Remove("workers/a"));
  EXPECT_EQ(registry.Find("workers/a"), nullptr);
  EXPECT_EQ(registry.HeartbeatsMissed("workers/a"), 0);
}

TEST(WorkerRegistry, GetChecksTheNameAndSaysNotFound) {
  WorkerRegistry registry(absl::Seconds(1));
  AddWorker(registry, "workers/a", 1, 0);
  EXPECT_TRUE(registry.Get("workers/a").ok());
  EXPECT_EQ(registry.Get("workers/b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry.Get("jobs/a").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Get("workers/a/b").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tunefleet::coordinator
