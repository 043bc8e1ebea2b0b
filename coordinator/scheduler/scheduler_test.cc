#include "coordinator/scheduler/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet::scheduler {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

QueuedJob Job(std::string id, int32_t world_size, int32_t priority = 0, int64_t order = 0,
              absl::Duration waited = absl::ZeroDuration(), int32_t gpus_per_rank = 0) {
  return QueuedJob{std::move(id), priority, order, world_size, gpus_per_rank, kNow - waited};
}

WorkerCapacity Cpu(std::string id, int32_t slots, bool schedulable = true) {
  return WorkerCapacity{std::move(id), {}, slots, schedulable};
}

WorkerCapacity Gpu(std::string id, std::vector<int32_t> gpus) {
  return WorkerCapacity{std::move(id), std::move(gpus), 0, true};
}

std::vector<std::string> Workers(const Placement& p) {
  std::vector<std::string> out;
  for (const auto& r : p.ranks) out.push_back(r.worker);
  return out;
}

TEST(Scheduler, HigherPriorityFirstThenFifo) {
  auto d = Schedule({Job("late-low", 1, 0, 3), Job("high", 1, 5, 2), Job("early-low", 1, 0, 1)}, {Cpu("w", 2)}, kNow,
                    {});
  ASSERT_EQ(d.placements.size(), 2u);
  EXPECT_EQ(d.placements[0].job, "high");
  EXPECT_EQ(d.placements[1].job, "early-low");
}

TEST(Scheduler, GangIsAllOrNothing) {
  auto d = Schedule({Job("big", 3)}, {Cpu("a", 1), Cpu("b", 1)}, kNow, {});
  EXPECT_TRUE(d.placements.empty());
}

TEST(Scheduler, GangSpansWorkersWithRanksInOrder) {
  auto d = Schedule({Job("j", 3)}, {Cpu("a", 2), Cpu("b", 1)}, kNow, {});
  ASSERT_EQ(d.placements.size(), 1u);
  EXPECT_THAT(Workers(d.placements[0]), ::testing::ElementsAre("a", "a", "b"));
  for (int r = 0; r < 3; ++r) EXPECT_EQ(d.placements[0].ranks[r].rank, r);
}

TEST(Scheduler, PacksOntoFewestWorkersAndBestFit) {
  // Two ranks fit on c (2 free) or d (4 free): best fit takes c, keeping d whole.
  auto d = Schedule({Job("j", 2)}, {Cpu("a", 1), Cpu("b", 1), Cpu("c", 2), Cpu("d", 4)}, kNow, {});
  ASSERT_EQ(d.placements.size(), 1u);
  EXPECT_THAT(Workers(d.placements[0]), ::testing::ElementsAre("c", "c"));
}

TEST(Scheduler, CordonedWorkersGetNothing) {
  auto d = Schedule({Job("j", 1)}, {Cpu("cordoned", 4, /*schedulable=*/false)}, kNow, {});
  EXPECT_TRUE(d.placements.empty());
}

TEST(Scheduler, GpuAccountingGivesDistinctDevices) {
  auto d = Schedule({Job("a", 1, 0, 1, {}, 2), Job("b", 1, 0, 2, {}, 2), Job("c", 1, 0, 3, {}, 2)},
                    {Gpu("g", {0, 1, 2, 3})}, kNow, {});
  ASSERT_EQ(d.placements.size(), 2u);
  EXPECT_THAT(d.placements[0].ranks[0].gpu_indices, ::testing::ElementsAre(0, 1));
  EXPECT_THAT(d.placements[1].ranks[0].gpu_indices, ::testing::ElementsAre(2, 3));
}

TEST(Scheduler, GpuJobsDoNotUseCpuSlotsAndViceVersa) {
  auto d = Schedule({Job("gpu", 1, 0, 1, {}, 1), Job("cpu", 1, 0, 2)}, {Cpu("cpu-only", 1), Gpu("gpu-only", {0})},
                    kNow, {});
  ASSERT_EQ(d.placements.size(), 2u);
  EXPECT_EQ(d.placements[0].ranks[0].worker, "gpu-only");
  EXPECT_EQ(d.placements[1].ranks[0].worker, "cpu-only");
}

TEST(Scheduler, SmallJobsBackfillWhileALargeJobIsYoung) {
  auto d = Schedule({Job("large", 4, 0, 1, absl::Seconds(1)), Job("small", 1, 0, 2)}, {Cpu("w", 2)}, kNow,
                    Options{absl::Minutes(5)});
  ASSERT_EQ(d.placements.size(), 1u);
  EXPECT_EQ(d.placements[0].job, "small");
  EXPECT_TRUE(d.reserved_for.empty());
}

TEST(Scheduler, ALargeJobThatWaitedLongReservesTheCluster) {
  auto d = Schedule({Job("large", 4, 0, 1, absl::Minutes(6)), Job("small", 1, 0, 2)}, {Cpu("w", 2)}, kNow,
                    Options{absl::Minutes(5)});
  EXPECT_TRUE(d.placements.empty());
  EXPECT_EQ(d.reserved_for, "large");
}

TEST(Scheduler, PlacementsInOnePassShareCapacity) {
  auto d = Schedule({Job("a", 2, 0, 1), Job("b", 2, 0, 2), Job("c", 1, 0, 3)}, {Cpu("w", 3)}, kNow, {});
  ASSERT_EQ(d.placements.size(), 2u);
  EXPECT_EQ(d.placements[0].job, "a");
  EXPECT_EQ(d.placements[1].job, "c");
}

}  // namespace
}  // namespace tunefleet::scheduler
