#pragma once
// Re-slicing the flat optimizer state between world sizes. A ZeRO run at
// world size N pads the flat buffer to a multiple of N and gives rank r the
// contiguous range [r*P/N, (r+1)*P/N); the real elements [0, numel) are the
// same at any N, only the padding differs. So the state of rank r of M is
// the part of the old shards inside its new range, zeros past numel.

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"

namespace tunefleet {

struct FlatRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

// `numel` rounded up to a multiple of `world_size` (as FlatParameters pads).
int64_t PaddedFlatNumel(int64_t numel, int world_size);
// Rank `rank`'s equal contiguous share of a buffer padded for `world_size`.
FlatRange ShardRangeForRank(int64_t padded_numel, int world_size, int rank);

// One saved shard: `values` (1-D) holds elements [begin, end).
struct FlatShard {
  int64_t begin = 0;
  int64_t end = 0;
  torch::Tensor values;
};

// The elements `target` of the flat buffer whose real length is `numel`,
// assembled from `shards` (any order): a new 1-D tensor of the shards'
// dtype, zero past `numel`. INVALID_ARGUMENT for a shard whose size is not
// end - begin or dtypes that differ; DATA_LOSS naming the first real
// element no shard covers. Pure: reads the shards, writes only the result.
absl::StatusOr<torch::Tensor> ResliceFlatRange(const std::vector<FlatShard>& shards, int64_t numel, FlatRange target);

}  // namespace tunefleet
