#include "trainer/checkpoint/checkpoint_test_state.h"

#include <cstring>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "trainer/checkpoint/flat_reslice.h"

namespace tunefleet::testing {

FullFlatState MakeFullFlatState(int64_t numel, int seed) {
  const torch::Tensor i = torch::arange(numel, torch::kFloat64);
  FullFlatState s;
  s.master = torch::sin(i * 0.37 + seed).to(torch::kFloat32);
  s.exp_avg = torch::cos(i * 0.11 + seed).to(torch::kFloat32) * 1e-3;
  s.exp_avg_sq = (i * 1e-4 + seed).to(torch::kFloat32).square();
  return s;
}

torch::Tensor ExpectedSlice(const torch::Tensor& full, int64_t begin, int64_t end) {
  torch::Tensor out = torch::zeros({end - begin}, full.options());
  const int64_t real_end = std::min(end, full.numel());
  if (real_end > begin) out.narrow(0, 0, real_end - begin).copy_(full.narrow(0, begin, real_end - begin));
  return out;
}

RankCheckpointState MakeRankState(int rank, int world_size, int64_t numel, int64_t step, int seed) {
  RankCheckpointState state;
  state.rank = rank;
  state.world_size = world_size;
  state.save_id = absl::StrCat("test-", step);
  const FullFlatState full = MakeFullFlatState(numel, seed);
  const int64_t padded = PaddedFlatNumel(numel, world_size);
  const FlatRange range = ShardRangeForRank(padded, world_size, rank);
  OptimizerShardState shard;
  shard.begin = range.begin;
  shard.end = range.end;
  shard.padded_numel = padded;
  shard.numel = numel;
  shard.adamw_step = step;
  shard.master = ExpectedSlice(full.master, range.begin, range.end);
  shard.exp_avg = ExpectedSlice(full.exp_avg, range.begin, range.end);
  shard.exp_avg_sq = ExpectedSlice(full.exp_avg_sq, range.begin, range.end);
  state.optimizer_shard = shard;
  if (rank == 0) {
    state.model_weights = {
        {"model.embed_tokens.weight", full.master.narrow(0, 0, std::min<int64_t>(numel, 12)).reshape({-1, 1})},
        {"model.norm.weight", torch::full({4}, 1.0f + static_cast<float>(seed), torch::kBFloat16)},
        {"lm_head.weight", torch::arange(6, torch::kInt64).reshape({2, 3})}};
  }
  TrainerState& t = state.trainer_state;
  t.step = step;
  t.epoch = step / 7;
  t.step_in_epoch = step % 7;
  t.lr_schedule_step = step;
  t.zero_stage = 2;
  t.flat_numel = numel;
  t.flat_padded_numel = padded;
  t.rng_states["torch_cpu"] = std::string("\x01\x00\xfe rank ", 8) + std::to_string(rank);
  t.extra["seed"] = std::to_string(seed);
  return state;
}

bool BitwiseEqual(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const torch::Tensor ca = a.contiguous();
  const torch::Tensor cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<size_t>(ca.numel()) * ca.element_size()) == 0;
}

void ThreadBarrier::Arrive() {
  std::unique_lock<std::mutex> lock(mu_);
  const int generation = generation_;
  if (++waiting_ == count_) {
    waiting_ = 0;
    ++generation_;
    cv_.notify_all();
    return;
  }
  cv_.wait(lock, [&] { return generation_ != generation; });
}

}  // namespace tunefleet::testing
