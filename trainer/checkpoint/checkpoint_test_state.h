#pragma once
// Deterministic training state for the checkpoint tests: full flat AdamW
// state of `numel` real elements (a formula of the index, so any slice can
// be recomputed), each rank's shard of it, a few weights of mixed dtypes,
// and a thread barrier standing in for the loop's collective.

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include <torch/types.h>

#include "trainer/checkpoint/rank_state.h"

namespace tunefleet::testing {

// Element i of each flat state tensor, for i in [0, numel); zero beyond.
struct FullFlatState {
  torch::Tensor master, exp_avg, exp_avg_sq;  // fp32, `numel` elements
};
FullFlatState MakeFullFlatState(int64_t numel, int seed);

// The state of rank `rank` of `world_size` at `step`, ZeRO-sharded over a
// buffer padded to a multiple of world_size; rank 0 carries the weights.
RankCheckpointState MakeRankState(int rank, int world_size, int64_t numel, int64_t step, int seed);

// The expected [begin, end) of a flat tensor of `numel` real elements.
torch::Tensor ExpectedSlice(const torch::Tensor& full, int64_t begin, int64_t end);

// Bitwise equality of two tensors (dtype, shape and bytes).
bool BitwiseEqual(const torch::Tensor& a, const torch::Tensor& b);

class ThreadBarrier {
 public:
  explicit ThreadBarrier(int count) : count_(count) {}
  void Arrive();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_;
  int waiting_ = 0;
  int generation_ = 0;
};

}  // namespace tunefleet::testing
