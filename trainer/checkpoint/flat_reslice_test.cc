#include "trainer/checkpoint/flat_reslice.h"

#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/checkpoint/checkpoint_test_state.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing::BitwiseEqual;
using testing::ExpectedSlice;

// The shards a run at `world_size` holds of `full` (numel real elements).
std::vector<FlatShard> ShardsOf(const torch::Tensor& full, int world_size) {
  const int64_t padded = PaddedFlatNumel(full.numel(), world_size);
  std::vector<FlatShard> shards;
  for (int r = 0; r < world_size; ++r) {
    const FlatRange range = ShardRangeForRank(padded, world_size, r);
    shards.push_back(FlatShard{range.begin, range.end, ExpectedSlice(full, range.begin, range.end)});
  }
  return shards;
}

void ExpectResliceMatches(int64_t numel, int from, int to) {
  const torch::Tensor full = testing::MakeFullFlatState(numel, 3).exp_avg_sq;
  const std::vector<FlatShard> saved = ShardsOf(full, from);
  const int64_t padded = PaddedFlatNumel(numel, to);
  for (int r = 0; r < to; ++r) {
    const FlatRange range = ShardRangeForRank(padded, to, r);
    absl::StatusOr<torch::Tensor> slice = ResliceFlatRange(saved, numel, range);
    ASSERT_TRUE(slice.ok()) << slice.status();
    EXPECT_TRUE(BitwiseEqual(*slice, ExpectedSlice(full, range.begin, range.end)))
        << numel << " elements, " << from << " -> " << to << ", rank " << r;
  }
}

TEST(FlatResliceTest, TwoToThree) {
  ExpectResliceMatches(10, 2, 3);  // padded 10 -> 12
  ExpectResliceMatches(1001, 2, 3);
}

TEST(FlatResliceTest, ThreeToOne) {
  ExpectResliceMatches(10, 3, 1);  // padded 12 -> 10
  ExpectResliceMatches(1001, 3, 1);
}

TEST(FlatResliceTest, OneToTwo) {
  ExpectResliceMatches(11, 1, 2);  // padded 11 -> 12
  ExpectResliceMatches(1000, 1, 2);
}

TEST(FlatResliceTest, SameWorldSizeIsTheIdentity) { ExpectResliceMatches(97, 4, 4); }

TEST(FlatResliceTest, ShardsInAnyOrder) {
  const torch::Tensor full = testing::MakeFullFlatState(9, 1).master;
  std::vector<FlatShard> saved = ShardsOf(full, 3);
  std::swap(saved[0], saved[2]);
  absl::StatusOr<torch::Tensor> all = ResliceFlatRange(saved, 9, FlatRange{0, 9});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(BitwiseEqual(*all, full));
}

TEST(FlatResliceTest, AMissingShardIsNamedByElement) {
  const torch::Tensor full = testing::MakeFullFlatState(12, 1).master;
  std::vector<FlatShard> saved = ShardsOf(full, 3);  // [0,4) [4,8) [8,12)
  saved.erase(saved.begin() + 1);
  absl::StatusOr<torch::Tensor> slice = ResliceFlatRange(saved, 12, FlatRange{0, 6});
  ASSERT_FALSE(slice.ok());
  EXPECT_EQ(slice.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(slice.status().message(), HasSubstr("element 4"));
}

TEST(FlatResliceTest, PaddingNeedsNoShard) {
  const torch::Tensor full = testing::MakeFullFlatState(10, 1).master;
  std::vector<FlatShard> saved = ShardsOf(full, 2);
  absl::StatusOr<torch::Tensor> slice = ResliceFlatRange(saved, 10, FlatRange{8, 12});
  ASSERT_TRUE(slice.ok()) << slice.status();
  EXPECT_TRUE(BitwiseEqual(*slice, ExpectedSlice(full, 8, 12)));
  EXPECT_EQ(slice->index({3}).item<float>(), 0.0f);
}

TEST(FlatResliceTest, BadShardsAreRejected) {
  std::vector<FlatShard> wrong_size = {FlatShard{0, 4, torch::zeros({3})}};
  EXPECT_EQ(ResliceFlatRange(wrong_size, 4, FlatRange{0, 4}).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<FlatShard> mixed = {FlatShard{0, 2, torch::zeros({2})},
                                  FlatShard{2, 4, torch::zeros({2}, torch::kFloat64)}};
  EXPECT_EQ(ResliceFlatRange(mixed, 4, FlatRange{0, 4}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tunefleet
