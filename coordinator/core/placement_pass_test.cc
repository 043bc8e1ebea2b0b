#include "coordinator/core/placement_pass.h"

#include <gtest/gtest.h>

#include "common/proto_time.h"

namespace tunefleet::coordinator {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(100000);

class PlacementPassTest : public ::testing::Test {
 protected:
  void AddWorker(const std::string& id, int gpus) {
    WorkerEntry& entry = workers_.FindOrAdd("workers/" + id);
    entry.worker.set_name("workers/" + id);
    entry.worker.set_state(v1::WORKER_STATE_READY);
    for (int g = 0; g < gpus; ++g) entry.worker.mutable_resources()->add_gpus()->set_index(g);
  }
  JobEntry& Queue(const std::string& id, int32_t world_size, int32_t gpus_per_rank, const std::string& sweep = "") {
    JobEntry entry;
    entry.job.set_name("jobs/" + id);
    entry.job.set_state(v1::JOB_STATE_QUEUED);
    entry.job.set_sweep(sweep);
    entry.job.mutable_spec()->mutable_resources()->set_world_size(world_size);
    entry.job.mutable_spec()->mutable_resources()->set_gpus_per_rank(gpus_per_rank);
    entry.order = ++order_;
    entry.queued_since = kNow;
    return jobs_.Add(std::move(entry));
  }
  static std::vector<std::string> Placed(const scheduler::Decision& decision) {
    std::vector<std::string> jobs;
    for (const auto& placement : decision.placements) jobs.push_back(placement.job);
    return jobs;
  }

  JobTable jobs_;
  WorkerRegistry workers_{absl::Seconds(3)};
  PlacementPass pass_{scheduler::Options{}};
  int64_t order_ = 0;
};

TEST_F(PlacementPassTest, PlacesWhatFitsInQueueOrder) {
  AddWorker("a", 8);
  Queue("big", 2, 4);
  Queue("small", 1, 2);
  pass_.Want();
  auto decision = pass_.Decide(jobs_, workers_, kNow);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(Placed(*decision), (std::vector<std::string>{"jobs/big"})) << "8 GPUs: the second gang waits";
}

TEST_F(PlacementPassTest, SkipsWhenNothingChanged) {
  AddWorker("a", 8);
  Queue("x", 1, 1);
  EXPECT_TRUE(pass_.Decide(jobs_, workers_, kNow).has_value()) << "the first pass runs unasked";
  EXPECT_FALSE(pass_.Decide(jobs_, workers_, kNow).has_value()) << "no change since the last pass";
  pass_.Want();
  EXPECT_TRUE(pass_.Decide(jobs_, workers_, kNow).has_value());
}

TEST_F(PlacementPassTest, ABackoffBringsTheNextPassAtItsEnd) {
  AddWorker("a", 8);
  JobEntry& x = Queue("x", 1, 1);
  *x.job.mutable_not_before() = ToProtoTime(kNow + absl::Seconds(30));
  pass_.Want();
  auto decision = pass_.Decide(jobs_, workers_, kNow);
  ASSERT_TRUE(decision.has_value());
  EXPECT_TRUE(decision->placements.empty()) << "backing off";
  EXPECT_FALSE(pass_.Decide(jobs_, workers_, kNow + absl::Seconds(10)).has_value());
  decision = pass_.Decide(jobs_, workers_, kNow + absl::Seconds(30));
  ASSERT_TRUE(decision.has_value()) << "the backoff has ended: the pass runs unasked";
  EXPECT_EQ(Placed(*decision), (std::vector<std::string>{"jobs/x"}));
}

TEST_F(PlacementPassTest, MayFitNowReadsWhatTheLastPassLeftFree) {
  AddWorker("a", 4);
  v1::JobSpec three;
  three.mutable_resources()->set_world_size(3);
  three.mutable_resources()->set_gpus_per_rank(1);
  EXPECT_TRUE(pass_.MayFitNow(three)) << "before any pass: anything may";
  Queue("x", 2, 1);
  pass_.Want();
  ASSERT_EQ(Placed(*pass_.Decide(jobs_, workers_, kNow)), (std::vector<std::string>{"jobs/x"}));
  EXPECT_FALSE(pass_.MayFitNow(three)) << "4 GPUs less the 2 just placed";
  three.mutable_resources()->set_world_size(2);
  EXPECT_TRUE(pass_.MayFitNow(three));
  pass_.NotSaved();
  three.mutable_resources()->set_world_size(100);
  EXPECT_TRUE(pass_.MayFitNow(three)) << "a placement not saved frees its slots again";
  EXPECT_TRUE(pass_.Decide(jobs_, workers_, kNow).has_value()) << "and the next pass runs";
}

TEST_F(PlacementPassTest, BusyAndUnschedulableCapacityIsNotOffered) {
  AddWorker("a", 2);
  AddWorker("b", 2);
  workers_.AddRank("jobs/running", "workers/a", {0, 1});
  workers_.Find("workers/b")->worker.set_state(v1::WORKER_STATE_CORDONED);
  Queue("x", 1, 1);
  pass_.Want();
  auto decision = pass_.Decide(jobs_, workers_, kNow);
  ASSERT_TRUE(decision.has_value());
  EXPECT_TRUE(decision->placements.empty());
  workers_.RemoveRank("jobs/running", "workers/a", {0, 1});
  pass_.Want();
  EXPECT_EQ(Placed(*pass_.Decide(jobs_, workers_, kNow)), (std::vector<std::string>{"jobs/x"}));
}

TEST_F(PlacementPassTest, AGroupRunsAtMostItsLimitInSubmissionOrder) {
  AddWorker("a", 8);
  Queue("p1", 1, 1, "sweeps/s");
  Queue("p2", 1, 1, "sweeps/s");
  Queue("p3", 1, 1, "sweeps/s");
  Queue("other", 1, 1);
  pass_.LimitGroup("sweeps/s", 2);
  auto decision = pass_.Decide(jobs_, workers_, kNow);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(Placed(*decision), (std::vector<std::string>{"jobs/p1", "jobs/p2", "jobs/other"}));

  // p1 runs: one place is left for p2, p3 still waits.
  JobEntry& p1 = *jobs_.Find("jobs/p1");
  v1::Job running = p1.job;
  running.set_state(v1::JOB_STATE_RUNNING);
  jobs_.Set(p1, running);
  pass_.Want();
  EXPECT_EQ(Placed(*pass_.Decide(jobs_, workers_, kNow)), (std::vector<std::string>{"jobs/p2", "jobs/other"}));
  pass_.LimitGroup("sweeps/s", 0);  // no limit
  EXPECT_EQ(Placed(*pass_.Decide(jobs_, workers_, kNow)),
            (std::vector<std::string>{"jobs/p2", "jobs/p3", "jobs/other"}));
}

}  // namespace
}  // namespace tunefleet::coordinator
