// RankAgreement over Gloo, each rank a thread: one rank's request counts for
// all, sums meet, a failure anywhere fails everyone, and one process (no
// collectives) answers with its own values.

#include "trainer/dist/rank_agreement.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "trainer/dist/dist_test_util.h"

namespace tunefleet {
namespace {

using testing::RunRanks;

TEST(RankAgreementTest, AnyRanksRequestCountsForAllInOneCollective) {
  RunRanks(3, [](int rank, Collectives& c) {
    RankAgreement agreement(&c);
    StepVote vote;
    vote.stop = rank == 1;
    vote.save_now = rank == 2;
    vote.loss_sum = 1.5 * (rank + 1);
    vote.tokens = 10 * (rank + 1);
    c.ResetStats();
    auto decision = agreement.AgreeOnStep(vote);
    ASSERT_TRUE(decision.ok()) << decision.status();
    EXPECT_EQ(c.stats().operations, 1);
    EXPECT_TRUE(decision->stop);
    EXPECT_TRUE(decision->save_now);
    EXPECT_FALSE(decision->save_failed);
    EXPECT_FALSE(decision->nan_seen);
    EXPECT_DOUBLE_EQ(decision->loss_sum, 9.0);
    EXPECT_EQ(decision->tokens, 60);
  });
}

TEST(RankAgreementTest, ANonFiniteLossOnOneRankIsSeenByAll) {
  RunRanks(2, [](int rank, Collectives& c) {
    RankAgreement agreement(&c);
    StepVote vote;
    vote.loss_sum = rank == 0 ? std::numeric_limits<double>::quiet_NaN() : 2.0;
    auto decision = agreement.AgreeOnStep(vote);
    ASSERT_TRUE(decision.ok()) << decision.status();
    EXPECT_TRUE(decision->nan_seen);
    EXPECT_TRUE(std::isnan(decision->loss_sum));
    EXPECT_FALSE(decision->stop);
  });
}

TEST(RankAgreementTest, OneRanksFailureFailsEveryRank) {
  RunRanks(2, [](int rank, Collectives& c) {
    RankAgreement agreement(&c);
    const absl::Status mine = rank == 1 ? absl::DataLossError("disk full") : absl::OkStatus();
    const absl::Status all = agreement.AllSucceeded(mine, "the final checkpoint");
    if (rank == 1) {
      EXPECT_EQ(all, mine);
    } else {
      EXPECT_TRUE(absl::IsAborted(all)) << all;
      EXPECT_NE(all.message().find("the final checkpoint failed on another rank"), std::string::npos) << all;
    }
    EXPECT_TRUE(agreement.AllSucceeded(absl::OkStatus(), "nothing").ok());
  });
}

TEST(RankAgreementTest, SharesTheLeadersValueAndChecksSameness) {
  RunRanks(3, [](int rank, Collectives& c) {
    RankAgreement agreement(&c);
    auto launch = agreement.LeaderValue(rank == 0 ? 1764800000123 : 7, "the launch");
    ASSERT_TRUE(launch.ok()) << launch.status();
    EXPECT_EQ(*launch, 1764800000123);
    EXPECT_TRUE(agreement.SameOnEveryRank(4, "resumed step").ok());
    const absl::Status differs = agreement.SameOnEveryRank(rank == 2 ? 6 : 4, "resumed step");
    EXPECT_TRUE(absl::IsFailedPrecondition(differs)) << differs;
  });
}

TEST(RankAgreementTest, OneProcessAgreesWithItself) {
  RankAgreement agreement(nullptr);
  EXPECT_EQ(agreement.rank(), 0);
  EXPECT_EQ(agreement.world_size(), 1);
  EXPECT_FALSE(agreement.distributed());
  StepVote vote;
  vote.save_now = true;
  vote.loss_sum = 3.25;
  vote.tokens = 7;
  auto decision = agreement.AgreeOnStep(vote);
  ASSERT_TRUE(decision.ok());
  EXPECT_TRUE(decision->save_now);
  EXPECT_FALSE(decision->stop);
  EXPECT_DOUBLE_EQ(decision->loss_sum, 3.25);
  EXPECT_EQ(decision->tokens, 7);
  EXPECT_EQ(*agreement.LeaderValue(42, "x"), 42);
  EXPECT_FALSE(agreement.AllSucceeded(absl::InternalError("x"), "y").ok());
}

}  // namespace
}  // namespace tunefleet
