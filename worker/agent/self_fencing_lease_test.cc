#include "worker/agent/self_fencing_lease.h"

#include <gtest/gtest.h>

namespace tunefleet::worker {
namespace {

TEST(SelfFencingLeaseTest, NoLeaseNeverFences) {
  SelfFencingLease lease(absl::Seconds(10));
  EXPECT_FALSE(lease.Lapsing(absl::Now() + absl::Hours(1000)));
  lease.Grant(absl::ZeroDuration(), absl::Now());  // an older coordinator gave none
  EXPECT_FALSE(lease.active());
  EXPECT_FALSE(lease.Lapsing(absl::Now() + absl::Hours(1000)));
}

TEST(SelfFencingLeaseTest, TrainersAreStoppedAGraceBeforeTheLeaseEndsAndKilledAtItsEnd) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  SelfFencingLease lease(absl::Seconds(10));
  lease.Grant(absl::Milliseconds(13500), t0);  // the defaults: 15 s timeout
  EXPECT_EQ(lease.grace(), absl::Milliseconds(4500));  // a third of the lease, under --stop-grace
  EXPECT_EQ(lease.TermAt(), t0 + absl::Seconds(9));
  EXPECT_EQ(lease.KillAt(), t0 + absl::Milliseconds(13500));
  EXPECT_FALSE(lease.Lapsing(t0 + absl::Milliseconds(8999)));
  EXPECT_TRUE(lease.Lapsing(t0 + absl::Seconds(9)));

  SelfFencingLease short_grace(absl::Seconds(1));
  short_grace.Grant(absl::Milliseconds(13500), t0);
  EXPECT_EQ(short_grace.grace(), absl::Seconds(1));  // --stop-grace when it is shorter
}

TEST(SelfFencingLeaseTest, EachSuccessfulHeartbeatRenewsFromWhenItWasSent) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  SelfFencingLease lease(absl::Seconds(1));
  lease.Grant(absl::Seconds(3), t0);
  lease.Renew(t0 + absl::Seconds(2));
  EXPECT_EQ(lease.KillAt(), t0 + absl::Seconds(5));
  lease.Renew(t0 + absl::Seconds(1));  // a slow reply to an older heartbeat never moves it back
  EXPECT_EQ(lease.KillAt(), t0 + absl::Seconds(5));
}

}  // namespace
}  // namespace tunefleet::worker
