#include "trainer/dist/zero_optimizer.h"

#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "trainer/optim/grad_clip.h"

namespace tunefleet {

absl::StatusOr<std::unique_ptr<ZeroOptimizer>> ZeroOptimizer::Create(
    Collectives& collectives, FlatParameters& flat, const std::vector<std::pair<std::string, torch::Tensor>>& params,
    const ZeroOptions& options) {
  if (options.stage < 0 || options.stage > 2) {
    return absl::InvalidArgumentError(absl::StrCat("ZeRO stage must be 0, 1 or 2, got ", options.stage));
  }
  const int world = collectives.world_size();
  if (flat.padded_numel() % world != 0) {
    return absl::InvalidArgumentError(absl::StrCat("flat buffer of ", flat.padded_numel(),
                                                   " elements is not padded to a multiple of the world size ", world));
  }
  std::unique_ptr<ZeroOptimizer> self(new ZeroOptimizer(collectives, flat, options));
  self->shard_numel_ = flat.padded_numel() / world;
  self->shard_begin_ = self->shard_numel_ * collectives.rank();
  try {
    if (options.stage == 0) {
      self->adamw_ = std::make_unique<AdamW>(flat.values(), 0, flat.decay_numel(), options.adamw);
    } else {
      self->adamw_ = std::make_unique<AdamW>(flat.values().narrow(0, self->shard_begin_, self->shard_numel_),
                                             self->shard_begin_, flat.decay_numel(), options.adamw);
    }
    std::map<std::string, torch::Tensor> by_name(params.begin(), params.end());
    std::vector<torch::Tensor> in_slot_order;
    for (const FlatParameterSlot& slot : flat.slots()) {
      auto it = by_name.find(slot.name);
      if (it == by_name.end()) return absl::InvalidArgumentError(absl::StrCat("no parameter named ", slot.name));
      in_slot_order.push_back(it->second);
    }
    ZeroOptimizer* raw = self.get();
    self->buckets_ = std::make_unique<GradBuckets>(flat, in_slot_order, options.bucket_bytes,
                                                   [raw](int index, const GradBucket& b) { raw->Launch(index, b); });
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("setting up the ZeRO optimizer: ", e.what()));
  }
  const auto& buckets = self->buckets_->buckets();
  self->reduce_scatter_whole_ = options.stage == 2 && buckets.size() == 1 && buckets[0].begin == 0 &&
                                buckets[0].end == flat.padded_numel();
  return self;
}

void ZeroOptimizer::BeginBackward(bool last) {
  if (last) buckets_->Arm();
}

// From the backward pass (a gradient hook): start the bucket's reduction.
void ZeroOptimizer::Launch(int index, const GradBucket& bucket) {
  if (!launch_error_.ok()) return;
  torch::Tensor grads = flat_.grads();
  const std::string what = absl::StrFormat("gradient bucket %d (%.2f MiB)", index,
                                           (bucket.end - bucket.begin) * grads.element_size() / 1048576.0);
  auto keep = [&](absl::StatusOr<std::unique_ptr<CollectiveWork>> work) {
    if (work.ok()) {
      in_flight_.push_back(std::move(*work));
    } else if (launch_error_.ok()) {
      launch_error_ = work.status();
    }
  };
  if (options_.stage < 2) {
    keep(collectives_.AllReduceSum(grads.narrow(0, bucket.begin, bucket.end - bucket.begin), what));
    return;
  }
  if (reduce_scatter_whole_) return;  // one reduce-scatter in FinishGradients
  // Stage 2: each piece of the bucket goes to the rank whose shard holds it
  // (DeepSpeed's stage 2 does the same); together the pieces of all buckets
  // are one reduce-scatter of the buffer.
  for (int r = 0; r < collectives_.world_size(); ++r) {
    const int64_t lo = std::max(bucket.begin, r * shard_numel_);
    const int64_t hi = std::min(bucket.end, (r + 1) * shard_numel_);
    if (lo < hi) keep(collectives_.ReduceSum(grads.narrow(0, lo, hi - lo), r, what));
  }
}

torch::Tensor ZeroOptimizer::OwnedGrads() {
  return options_.stage == 0 ? flat_.grads() : flat_.grads().narrow(0, shard_begin_, shard_numel_);
}

absl::StatusOr<double> ZeroOptimizer::FinishGradients() {
  buckets_->Flush();
  absl::Status status = launch_error_;
  for (auto& work : in_flight_) {
    absl::Status s = work->Wait();
    if (status.ok()) status = s;
  }
  in_flight_.clear();
  launch_error_ = absl::OkStatus();
  if (!status.ok()) return status;
  if (reduce_scatter_whole_) {
    if (auto s = collectives_.ReduceScatterSum(flat_.grads(), OwnedGrads(), "the gradient buffer"); !s.ok()) return s;
  }
  // Stage 0: every rank has the whole summed gradient. Stages 1-2: the
  // global norm is the root of the sum of each shard's squares.
  const double local = SumOfSquares(OwnedGrads());
  if (options_.stage == 0) return std::sqrt(local);
  auto sum = collectives_.SumDoubles({local}, "the gradient norm");
  if (!sum.ok()) return sum.status();
  return std::sqrt((*sum)[0]);
}

absl::Status ZeroOptimizer::Update(double learning_rate, double max_grad_norm, double grad_norm) {
  torch::Tensor grads = OwnedGrads();
  try {
    ClipByGlobalNorm(grads, grad_norm, max_grad_norm);
    adamw_->Step(grads, learning_rate);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("rank ", collectives_.rank(), ": AdamW step failed: ", e.what()));
  }
  if (options_.stage == 0) return absl::OkStatus();
  torch::Tensor values = flat_.values();
  return collectives_.AllGather(values.narrow(0, shard_begin_, shard_numel_), values, "the updated parameters");
}

absl::StatusOr<std::vector<double>> ZeroOptimizer::SumOverRanks(std::vector<double> values) {
  return collectives_.SumDoubles(values, "the step's loss and token counts");
}

}  // namespace tunefleet
