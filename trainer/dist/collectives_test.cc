// The Gloo collectives at world sizes 1-3, each rank a thread: results, the
// emulated reduce-scatter (even and uneven pieces), byte counts checked
// against what the process really writes, and a hung peer failing by
// timeout.

#include "trainer/dist/collectives.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

#include "trainer/dist/comm_bytes.h"
#include "trainer/dist/dist_test_util.h"

namespace tunefleet {
namespace {

using testing::RunRanks;

class CollectivesTest : public ::testing::TestWithParam<int> {};

// Pieces 2, 0, 4, 0, 6, ...: empty ones included.
std::vector<int64_t> UnevenPieces(int world) {
  std::vector<int64_t> sizes;
  for (int r = 0; r < world; ++r) sizes.push_back(r % 2 == 1 ? 0 : r + 2);
  return sizes;
}

int64_t Total(const std::vector<int64_t>& sizes) {
  int64_t total = 0;
  for (int64_t n : sizes) total += n;
  return total;
}

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

    // reduce-scatter, equal pieces, in place: this rank's chunk gets its sum
    torch::Tensor buffer = torch::arange(2 * world, torch::kFloat32) + rank;
    auto scattered = c.ReduceScatterSum(buffer, std::vector<int64_t>(world, 2), "buffer");
    ASSERT_TRUE(scattered.ok()) << scattered.status();
    ASSERT_TRUE((*scattered)->Wait().ok());
    torch::Tensor expected = torch::arange(2 * world, torch::kFloat32).narrow(0, 2 * rank, 2) * world +
                             world * (world - 1) / 2.0;
    EXPECT_TRUE(torch::allclose(buffer.narrow(0, 2 * rank, 2), expected)) << buffer << expected;

    // reduce-scatter, uneven pieces (a gradient bucket: most ranks own none)
    const std::vector<int64_t> sizes = UnevenPieces(world);
    int64_t offset = 0;
    for (int q = 0; q < rank; ++q) offset += sizes[q];
    torch::Tensor uneven = torch::arange(Total(sizes), torch::kFloat32) * (rank + 1);
    auto uneven_work = c.ReduceScatterSum(uneven, sizes, "uneven");
    ASSERT_TRUE(uneven_work.ok()) << uneven_work.status();
    ASSERT_TRUE((*uneven_work)->Wait().ok());
    EXPECT_TRUE(torch::allclose(uneven.narrow(0, offset, sizes[rank]),
                                torch::arange(offset, offset + sizes[rank], torch::kFloat32) * factor))
        << uneven;

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
  RunRanks(world, [&](int rank, Collectives& c) {
    torch::Tensor t = torch::zeros({12 * world});  // 48N bytes
    auto work = c.AllReduceSum(t, "t");
    ASSERT_TRUE(work.ok() && (*work)->Wait().ok());
    EXPECT_EQ(c.stats().bytes_sent, 2 * 48 * world * (world - 1) / world);
    EXPECT_EQ(c.stats().ideal_bytes, c.stats().bytes_sent);
    c.ResetStats();
    ASSERT_TRUE(c.AllGather(t.narrow(0, 0, 12), t, "t").ok());
    EXPECT_EQ(c.stats().bytes_sent, 48 * world * (world - 1) / world);
    EXPECT_EQ(c.stats().ideal_bytes, c.stats().bytes_sent);
    EXPECT_EQ(c.stats().operations, 1);
    // A ring reduce-scatter sends every piece but this rank's own; Gloo has
    // none, and its stand-in (a reduce per piece) sends more, as counted.
    c.ResetStats();
    auto scattered = c.ReduceScatterSum(t, std::vector<int64_t>(world, 12), "t");
    ASSERT_TRUE(scattered.ok() && (*scattered)->Wait().ok());
    EXPECT_EQ(c.stats().ideal_bytes, 48 * (world - 1));
    int64_t gloo = 0;
    for (int r = 0; r < world; ++r) gloo += GlooReduceBytes(12, 4, world, rank, r);
    EXPECT_EQ(c.stats().bytes_sent, gloo);
    if (world > 1) {
      EXPECT_GT(c.stats().bytes_sent, c.stats().ideal_bytes);
    }
  });
}

// What the counters say the Gloo operations send is what the process
// really writes to its sockets (/proc/self/io; every rank is a thread of
// this process, so the sum over ranks), give or take Gloo's message
// headers. (One rank sends nothing and counts nothing.)
TEST_P(CollectivesTest, CountedBytesMatchWhatGlooWrites) {
  const int world = GetParam();
  if (ProcessWrittenBytes() < 0) GTEST_SKIP() << "no /proc/self/io";
  std::vector<int64_t> counted(world);
  std::atomic<int> ready{0};
  std::atomic<int64_t> written_before{-1};
  RunRanks(world, [&](int rank, Collectives& c) {
    // Gloo's connections are up once one collective has run; then all
    // ranks start counting together.
    ASSERT_TRUE(c.Barrier("start").ok());
    if (++ready == world) written_before = ProcessWrittenBytes();
    ASSERT_TRUE(c.Barrier("counting").ok());
    c.ResetStats();
    // 1.2 MB: two Gloo segments per rank; 12 MB: more, of 1 MiB each.
    for (int64_t n : {300000, 3000000}) {
      torch::Tensor big = torch::ones({n});
      auto reduced = c.AllReduceSum(big, "big");
      ASSERT_TRUE(reduced.ok() && (*reduced)->Wait().ok());
      auto scattered = c.ReduceScatterSum(big, std::vector<int64_t>(world, n / world), "big");
      ASSERT_TRUE(scattered.ok() && (*scattered)->Wait().ok());
      ASSERT_TRUE(c.AllGather(big.narrow(0, 0, n / world), big, "big").ok());
    }
    counted[rank] = c.stats().bytes_sent;
  });
  const int64_t written = ProcessWrittenBytes() - written_before;
  int64_t total = 0;
  for (int64_t n : counted) total += n;
  std::printf("N=%d: counted %lld bytes, written %lld\n", world, static_cast<long long>(total),
              static_cast<long long>(written));
  EXPECT_GE(written, total);
  EXPECT_LT(written, total + total / 50 + 65536);  // headers, the barriers
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, CollectivesTest, ::testing::Values(1, 2, 3));

// The time a rank spends blocked in Wait() is counted (the step's "comm"
// phase): some when a peer joins late, never more than the wait lasted.
TEST(CollectivesBlockedTest, CountsTheTimeAWaitBlocks) {
  RunRanks(2, [&](int rank, Collectives& c) {
    if (rank == 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));  // joins late
    const double before = c.blocked_seconds();
    auto work = c.AllReduceSum(torch::ones({4}), "a late peer's tensor");
    ASSERT_TRUE(work.ok()) << work.status();
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE((*work)->Wait().ok());
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double blocked = c.blocked_seconds() - before;
    EXPECT_GT(blocked, 0);
    EXPECT_LE(blocked, waited);
  });
}

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
