// The Gloo collectives at world sizes 1-3, each rank a thread: results, the
// emulated reduce-scatter, byte counts, and a hung peer failing by timeout.

#include "trainer/dist/collectives.h"

#include <gtest/gtest.h>

#include "trainer/dist/dist_test_util.h"

namespace tunefleet {
namespace {

using testing::RunRanks;

class CollectivesTest : public ::testing::TestWithParam<int> {};

TEST_P(CollectivesTest, SumsScattersAndGathers) {
  const int world = GetParam();
  RunRanks(world, [&](int rank, Collectives& c) {
    EXPECT_EQ(c.rank(), rank);
    EXPECT_EQ(c.world_size(), world);
    EXPECT_EQ(c.backend(), "gloo");
    // all-reduce: sum of (rank + 1) * [0, 1, ..., 5]
    torch::Tensor t = torch::arange(6, torch::kFloat32) * (rank + 1);
    auto work = c.AllReduceSum(t, "t");
    ASSERT_TRUE(work.ok()) << work.status();
    ASSERT_TRUE((*work)->Wait().ok());
    const double factor = world * (world + 1) / 2.0;
    EXPECT_TRUE(torch::allclose(t, torch::arange(6, torch::kFloat32) * factor));

    // reduce to the last rank
    torch::Tensor r = torch::full({3}, rank + 1.0);
    auto reduced = c.ReduceSum(r, world - 1, "r");
    ASSERT_TRUE(reduced.ok());
    ASSERT_TRUE((*reduced)->Wait().ok());
    if (rank == world - 1) {
      EXPECT_TRUE(torch::allclose(r, torch::full({3}, factor)));
    }

    // reduce-scatter in place into this rank's own chunk
    torch::Tensor buffer = torch::arange(2 * world, torch::kFloat32) + rank;
    torch::Tensor mine = buffer.narrow(0, 2 * rank, 2);
    ASSERT_TRUE(c.ReduceScatterSum(buffer, mine, "buffer").ok());
    torch::Tensor expected = torch::arange(2 * world, torch::kFloat32).narrow(0, 2 * rank, 2) * world +
                             world * (world - 1) / 2.0;
    EXPECT_TRUE(torch::allclose(mine, expected)) << mine << expected;

    // all-gather each rank's chunk, in place
    torch::Tensor gathered = torch::zeros({2 * world});
    gathered.narrow(0, 2 * rank, 2).fill_(rank);
    ASSERT_TRUE(c.AllGather(gathered.narrow(0, 2 * rank, 2), gathered, "gathered").ok());
    for (int q = 0; q < world; ++q) EXPECT_EQ(gathered[2 * q].item<float>(), q);

    auto sums = c.SumDoubles({1.0, rank * 1.0}, "doubles");
    ASSERT_TRUE(sums.ok());
    EXPECT_EQ((*sums)[0], world);
    EXPECT_EQ((*sums)[1], world * (world - 1) / 2.0);
    EXPECT_TRUE(c.Barrier("end").ok());
  });
}

TEST_P(CollectivesTest, CountsRingBytes) {
  const int world = GetParam();
  RunRanks(world, [&](int, Collectives& c) {
    torch::Tensor t = torch::zeros({12 * world});  // 48N bytes
    auto work = c.AllReduceSum(t, "t");
    ASSERT_TRUE(work.ok() && (*work)->Wait().ok());
    EXPECT_EQ(c.stats().bytes_sent, 2 * 48 * world * (world - 1) / world);
    c.ResetStats();
    ASSERT_TRUE(c.AllGather(t.narrow(0, 0, 12), t, "t").ok());
    EXPECT_EQ(c.stats().bytes_sent, 48 * world * (world - 1) / world);
    EXPECT_EQ(c.stats().operations, 1);
  });
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, CollectivesTest, ::testing::Values(1, 2, 3));

TEST(CollectivesTimeoutTest, HungPeerFailsWithinTimeoutNamingRankAndOp) {
  const auto timeout = std::chrono::milliseconds(1500);
  RunRanks(
      2,
      [&](int rank, Collectives& c) {
        if (rank == 1) {
          // Alive but never joins: rank 0 must give up on its own.
          std::this_thread::sleep_for(timeout * 3);
          return;
        }
        const auto start = std::chrono::steady_clock::now();
        auto work = c.AllReduceSum(torch::ones({4}), "gradient bucket 0");
        absl::Status s = work.ok() ? (*work)->Wait() : work.status();
        const auto elapsed = std::chrono::steady_clock::now() - start;
        EXPECT_FALSE(s.ok());
        EXPECT_NE(s.message().find("rank 0: all-reduce of gradient bucket 0 failed"), std::string::npos) << s;
        EXPECT_NE(s.message().find("timeout 1.5 s"), std::string::npos) << s;
        EXPECT_LT(elapsed, timeout * 3);
      },
      timeout);
}

}  // namespace
}  // namespace tunefleet
