#include "coordinator/core/gang_supervisor.h"

#include <gtest/gtest.h>

#include "common/exit_codes.h"

namespace tunefleet::coordinator {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000000);

std::vector<RankRuntime> Ranks(const std::vector<std::string>& workers) {
  std::vector<RankRuntime> ranks;
  for (const std::string& worker : workers) {
    RankRuntime rank;
    rank.worker = worker;
    rank.gpus = {0};
    ranks.push_back(std::move(rank));
  }
  return ranks;
}

std::vector<std::string> JobsOf(const std::vector<GangSupervisor::Verdict>& verdicts) {
  std::vector<std::string> jobs;
  for (const auto& v : verdicts) jobs.push_back(v.job);
  return jobs;
}

HangPolicy Policy() { return HangPolicy{10, absl::Minutes(2), absl::Minutes(10)}; }

TEST(GangSupervisor, StartFindEnd) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  const GangAttempt& a = gangs.Start("jobs/a", 7, Ranks({"w1", "w2"}), "secret", kT0);
  EXPECT_EQ(a.generation, 7);
  EXPECT_EQ(a.start, kT0);
  EXPECT_EQ(a.rendezvous_secret, "secret");
  ASSERT_EQ(a.ranks.size(), 2u);
  EXPECT_EQ(a.ranks[1].last_advance, kT0);
  EXPECT_EQ(gangs.size(), 1u);
  gangs.End("jobs/a");
  EXPECT_EQ(gangs.Find("jobs/a"), nullptr);
  EXPECT_EQ(gangs.size(), 0u);
  gangs.End("jobs/a");  // twice: nothing
  // An attempt ended leaves no index entry behind: nothing is due later.
  EXPECT_TRUE(gangs.HungGangs(kT0 + absl::Hours(10)).empty());
}

TEST(GangSupervisor, ReportRecordsPhaseAndPace) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  gangs.Start("jobs/a", 1, Ranks({"w1"}), "", kT0);
  gangs.Report("jobs/a", 0, v1::RANK_PHASE_RUNNING, 0, 1, kT0 + absl::Seconds(30));
  gangs.Report("jobs/a", 0, v1::RANK_PHASE_RUNNING, 0, 3, kT0 + absl::Seconds(34));
  const RankRuntime& rank = gangs.Find("jobs/a")->ranks[0];
  EXPECT_TRUE(rank.acknowledged);
  EXPECT_EQ(rank.phase, v1::RANK_PHASE_RUNNING);
  EXPECT_EQ(rank.step, 3);
  EXPECT_EQ(rank.last_advance, kT0 + absl::Seconds(34));
  EXPECT_EQ(rank.step_time, absl::Seconds(2));  // the first step's time (start-up) is not pace
  // A step not past the last is no progress.
  gangs.Report("jobs/a", 0, v1::RANK_PHASE_RUNNING, 0, 3, kT0 + absl::Seconds(50));
  EXPECT_EQ(gangs.Find("jobs/a")->ranks[0].last_advance, kT0 + absl::Seconds(34));
  // Out of range, or unknown: ignored.
  gangs.Report("jobs/a", 5, v1::RANK_PHASE_FAILED, 1, 9, kT0);
  gangs.Report("jobs/x", 0, v1::RANK_PHASE_FAILED, 1, 9, kT0);
  EXPECT_EQ(gangs.Find("jobs/a")->ranks[0].phase, v1::RANK_PHASE_RUNNING);
}

TEST(GangSupervisor, HungAfterStartupAllowanceBeforeTheFirstStep) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  gangs.Start("jobs/a", 1, Ranks({"w1"}), "", kT0);
  EXPECT_TRUE(gangs.HungGangs(kT0 + absl::Minutes(10)).empty());  // at the allowance: not yet
  const auto hung = gangs.HungGangs(kT0 + absl::Minutes(10) + absl::Milliseconds(1));
  ASSERT_EQ(hung.size(), 1u);
  EXPECT_EQ(hung[0].job, "jobs/a");
  EXPECT_EQ(hung[0].reason, v1::ATTEMPT_END_REASON_RANK_HUNG);
  EXPECT_NE(hung[0].detail.find("rank 0 on w1 made no progress past step 0"), std::string::npos) << hung[0].detail;
  // Still found until it ends (a failed write tries again next tick).
  EXPECT_EQ(gangs.HungGangs(kT0 + absl::Minutes(11)).size(), 1u);
  gangs.End("jobs/a");
  EXPECT_TRUE(gangs.HungGangs(kT0 + absl::Minutes(11)).empty());
}

TEST(GangSupervisor, AllowanceFollowsThePaceAboveTheFloor) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  gangs.Start("slow", 1, Ranks({"w1"}), "", kT0);
  gangs.Start("fast", 2, Ranks({"w2"}), "", kT0);
  // slow: 30 s a step -> 300 s allowance; fast: 1 s a step -> the 2 min floor.
  gangs.Report("slow", 0, v1::RANK_PHASE_RUNNING, 0, 1, kT0);
  gangs.Report("slow", 0, v1::RANK_PHASE_RUNNING, 0, 2, kT0 + absl::Seconds(30));
  gangs.Report("fast", 0, v1::RANK_PHASE_RUNNING, 0, 1, kT0);
  gangs.Report("fast", 0, v1::RANK_PHASE_RUNNING, 0, 2, kT0 + absl::Seconds(1));
  const absl::Time t = kT0 + absl::Seconds(200);
  EXPECT_EQ(JobsOf(gangs.HungGangs(t)), std::vector<std::string>{"fast"});
  EXPECT_EQ(JobsOf(gangs.HungGangs(kT0 + absl::Seconds(331))), (std::vector<std::string>{"fast", "slow"}));
  // Progress moves its due time: fast is no longer hung.
  gangs.Report("fast", 0, v1::RANK_PHASE_RUNNING, 0, 3, t);
  EXPECT_TRUE(gangs.HungGangs(t + absl::Seconds(1)).empty());
}

TEST(GangSupervisor, AGangIsJudgedByItsMostAdvancedRank) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  gangs.Start("jobs/g", 1, Ranks({"w1", "w2"}), "", kT0);
  // Only rank 1 reports steps (rank 0 never does): the gang progresses.
  for (int step = 1; step <= 20; ++step) {
    gangs.Report("jobs/g", 1, v1::RANK_PHASE_RUNNING, 0, step, kT0 + absl::Minutes(step));
  }
  EXPECT_TRUE(gangs.HungGangs(kT0 + absl::Minutes(21)).empty());
  const auto hung = gangs.HungGangs(kT0 + absl::Minutes(20) + absl::Minutes(10) + absl::Seconds(1));
  ASSERT_EQ(hung.size(), 1u);
  EXPECT_NE(hung[0].detail.find("no rank of the gang (most advanced: rank 1 on w2) made no progress past step 20"),
            std::string::npos)
      << hung[0].detail;
}

TEST(GangSupervisor, DrainingGangsAreNotJudgedHungAndCompleteWhenAllExited) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  gangs.Start("jobs/d", 1, Ranks({"w1", "w2"}), "", kT0);
  EXPECT_FALSE(gangs.DrainComplete("jobs/d").has_value());  // not draining
  EXPECT_FALSE(gangs.AskDrain("jobs/d", "w1"));
  EXPECT_TRUE(gangs.Drain("jobs/d", kT0 + absl::Minutes(5)));
  EXPECT_FALSE(gangs.Drain("jobs/d", kT0 + absl::Minutes(9)));  // already: the first deadline stays
  EXPECT_EQ(gangs.Find("jobs/d")->drain_deadline, kT0 + absl::Minutes(5));
  EXPECT_TRUE(gangs.HungGangs(kT0 + absl::Hours(1)).empty());
  EXPECT_TRUE(gangs.AskDrain("jobs/d", "w1"));
  EXPECT_FALSE(gangs.AskDrain("jobs/d", "w1"));  // once per worker
  // Never started (not acknowledged), then saving: not complete.
  EXPECT_FALSE(gangs.DrainComplete("jobs/d").has_value());
  gangs.Report("jobs/d", 0, v1::RANK_PHASE_STOPPED, exit_codes::kStoppedAfterCheckpoint, 0, kT0);
  gangs.Report("jobs/d", 1, v1::RANK_PHASE_CHECKPOINTING, 0, 0, kT0);
  EXPECT_FALSE(gangs.DrainComplete("jobs/d").has_value());
  gangs.Report("jobs/d", 1, v1::RANK_PHASE_STOPPED, exit_codes::kStoppedAfterCheckpoint, 0, kT0);
  EXPECT_EQ(gangs.DrainComplete("jobs/d"), std::optional<std::string>("drained: every rank checkpointed and exited 75"));
  gangs.Report("jobs/d", 1, v1::RANK_PHASE_FAILED, 1, 0, kT0);
  const auto drained = gangs.DrainComplete("jobs/d");
  ASSERT_TRUE(drained.has_value());
  EXPECT_NE(drained->find("without a drain checkpoint"), std::string::npos);
}

TEST(GangSupervisor, AFailureWaitsForTheGangsOtherWorkers) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  gangs.Start("jobs/f", 1, Ranks({"w1", "w2", "w3"}), "", kT0);
  EXPECT_TRUE(gangs.DeferFailure("jobs/f", "w1", "rank 0 exited 1", kT0));
  EXPECT_TRUE(gangs.DeferFailure("jobs/f", "w2", "rank 1 exited 1", kT0));  // the first one is reported
  EXPECT_FALSE(gangs.Heard("jobs/f", "w1").has_value());  // the reporter: not waited on
  EXPECT_FALSE(gangs.Heard("jobs/f", "w2").has_value());
  EXPECT_EQ(gangs.Heard("jobs/f", "w3"), std::optional<std::string>("rank 0 exited 1"));
}

TEST(GangSupervisor, AOneWorkerGangsFailureIsNotDeferred) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  gangs.Start("jobs/one", 1, Ranks({"w1", "w1"}), "", kT0);
  EXPECT_FALSE(gangs.DeferFailure("jobs/one", "w1", "rank 0 exited 1", kT0));
  EXPECT_FALSE(gangs.DeferFailure("jobs/none", "w1", "x", kT0));  // no attempt
}

TEST(GangSupervisor, ADeferredFailureIsTheJobsPastTheTimeout) {
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  gangs.Start("jobs/f", 1, Ranks({"w1", "w2"}), "", kT0);
  gangs.Start("jobs/ok", 2, Ranks({"w1", "w2"}), "", kT0);
  ASSERT_TRUE(gangs.DeferFailure("jobs/f", "w1", "rank 0 exited 1", kT0));
  EXPECT_TRUE(gangs.OverdueFailures(kT0 + absl::Seconds(15)).empty());
  const auto overdue = gangs.OverdueFailures(kT0 + absl::Seconds(16));
  ASSERT_EQ(overdue.size(), 1u);
  EXPECT_EQ(overdue[0].job, "jobs/f");
  EXPECT_EQ(overdue[0].reason, v1::ATTEMPT_END_REASON_TRAINER_FAILED);
  EXPECT_EQ(overdue[0].detail, "rank 0 exited 1");
  gangs.End("jobs/f");
  EXPECT_TRUE(gangs.OverdueFailures(kT0 + absl::Seconds(16)).empty());
  // A new attempt of the same job starts with no failure pending.
  gangs.Start("jobs/f", 3, Ranks({"w1", "w2"}), "", kT0);
  EXPECT_FALSE(gangs.Find("jobs/f")->failure_pending);
  EXPECT_TRUE(gangs.OverdueFailures(kT0 + absl::Minutes(1)).empty());
}

TEST(GangSupervisor, TheHungCheckVisitsOnlyGangsDue) {
  // Many attempts with fresh progress and one stalled: only the stalled one
  // is returned, at the time its allowance passes.
  GangSupervisor gangs(Policy(), absl::Seconds(15));
  for (int i = 0; i < 1000; ++i) gangs.Start("jobs/" + std::to_string(i), i, Ranks({"w"}), "", kT0);
  const absl::Time later = kT0 + absl::Minutes(9);
  for (int i = 0; i < 1000; ++i) {
    if (i != 500) gangs.Report("jobs/" + std::to_string(i), 0, v1::RANK_PHASE_RUNNING, 0, 1, later);
  }
  EXPECT_EQ(JobsOf(gangs.HungGangs(kT0 + absl::Minutes(10) + absl::Seconds(1))),
            std::vector<std::string>{"jobs/500"});
}

TEST(GangSupervisor, LivePhases) {
  EXPECT_TRUE(IsLivePhase(v1::RANK_PHASE_STARTING));
  EXPECT_TRUE(IsLivePhase(v1::RANK_PHASE_RUNNING));
  EXPECT_TRUE(IsLivePhase(v1::RANK_PHASE_CHECKPOINTING));
  EXPECT_FALSE(IsLivePhase(v1::RANK_PHASE_STOPPED));
  EXPECT_FALSE(IsLivePhase(v1::RANK_PHASE_FAILED));
  EXPECT_FALSE(IsLivePhase(v1::RANK_PHASE_SUCCEEDED));
}

}  // namespace
}  // namespace tunefleet::coordinator
