#include "trainer/dist/zero_optimizer.h"

#include <algorithm>
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
    for (const FlatParameterSlot& slot : flat.slots()) {
      auto it = by_name.find(slot.name);
      if (it == by_name.end()) return absl::InvalidArgumentError(absl::StrCat("no parameter named ", slot.name));
      self->params_.push_back(it->second);
    }
    ZeroOptimizer* raw = self.get();
    self->buckets_ = std::make_unique<GradBuckets>(flat, self->params_, options.bucket_bytes,
                                                   [raw](int index, const GradBucket& b) { raw->Launch(index, b); });
    if (options.stage == 2) {
      // Only the shard's gradient persists; backward allocates the
      // parameters' gradients and Launch frees them bucket by bucket.
      self->shard_grads_ = torch::zeros({self->shard_numel_}, flat.values().options());
      self->ReleaseParamGrads();
      flat.DropGradBuffer();
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("setting up the ZeRO optimizer: ", e.what()));
  }
  return self;
}

void ZeroOptimizer::BeginBackward(bool last) {
  if (last) buckets_->Arm();
}

std::vector<int64_t> ZeroOptimizer::PieceSizes(const GradBucket& bucket) const {
  std::vector<int64_t> sizes;
  for (int r = 0; r < collectives_.world_size(); ++r) {
    const int64_t lo = std::max(bucket.begin, r * shard_numel_);
    const int64_t hi = std::min(bucket.end, (r + 1) * shard_numel_);
    sizes.push_back(std::max<int64_t>(0, hi - lo));
  }
  return sizes;
}

// Stage 2: the bucket's parameter gradients, copied into one staging buffer
// (zeros for a parameter with none, and for the padding), then freed.
torch::Tensor ZeroOptimizer::GatherBucketGrads(const GradBucket& bucket) {
  torch::NoGradGuard no_grad;
  torch::Tensor staging = torch::empty({bucket.end - bucket.begin}, flat_.values().options());
  const auto& slots = flat_.slots();
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].offset < bucket.begin || slots[i].offset >= bucket.end) continue;
    torch::Tensor piece = staging.narrow(0, slots[i].offset - bucket.begin, slots[i].numel);
    torch::Tensor& grad = params_[i].mutable_grad();
    if (grad.defined()) {
      piece.view(grad.sizes()).copy_(grad);
      grad = torch::Tensor();
    } else {
      piece.zero_();
    }
  }
  if (bucket.end > flat_.numel()) staging.narrow(0, flat_.numel() - bucket.begin, bucket.end - flat_.numel()).zero_();
  return staging;
}

// From the backward pass (a gradient hook): start the bucket's reduction.
void ZeroOptimizer::Launch(int index, const GradBucket& bucket) {
  if (!launch_error_.ok()) return;
  const std::string what =
      absl::StrFormat("gradient bucket %d (%.2f MiB)", index,
                      static_cast<double>((bucket.end - bucket.begin) * flat_.values().element_size()) / 1048576.0);
  InFlight entry{bucket, torch::Tensor(), nullptr};
  absl::StatusOr<std::unique_ptr<CollectiveWork>> work = absl::UnknownError("not launched");
  SampleGradientBytes();
  try {
    if (options_.stage == 0) {
      work = collectives_.AllReduceSum(flat_.grads().narrow(0, bucket.begin, bucket.end - bucket.begin), what);
    } else if (options_.stage == 1) {
      // In place in the full buffer: afterwards only this rank's piece holds
      // the sum, which is all its update reads.
      work = collectives_.ReduceScatterSum(flat_.grads().narrow(0, bucket.begin, bucket.end - bucket.begin),
                                           PieceSizes(bucket), what);
    } else {
      // Bounds staging memory: the oldest reduction finishes (and its
      // staging buffer goes) before another bucket's is allocated.
      while (static_cast<int>(in_flight_.size()) >= kStagingWindow) CompleteOldest();
      // The bucket's parameter gradients and its staging buffer, both alive
      // while the one is copied into the other.
      SampleGradientBytes((bucket.end - bucket.begin) * flat_.values().element_size());
      entry.staging = GatherBucketGrads(bucket);
      staging_bytes_ += entry.staging.nbytes();
      peak_staging_bytes_ = std::max(peak_staging_bytes_, staging_bytes_);
      work = collectives_.ReduceScatterSum(entry.staging, PieceSizes(bucket), what);
    }
  } catch (const std::exception& e) {
    // Hooks run inside autograd: report through the status, never throw.
    work = absl::InternalError(absl::StrCat("rank ", collectives_.rank(), ": preparing ", what, ": ", e.what()));
  }
  if (!work.ok()) {
    if (launch_error_.ok()) launch_error_ = work.status();
    if (entry.staging.defined()) staging_bytes_ -= entry.staging.nbytes();
    return;
  }
  entry.work = std::move(*work);
  in_flight_.push_back(std::move(entry));
}

// Waits for the oldest reduction; at stage 2 moves this rank's piece of it
// into the shard's gradient and frees the staging buffer.
void ZeroOptimizer::CompleteOldest() {
  InFlight entry = std::move(in_flight_.front());
  in_flight_.pop_front();
  absl::Status s = entry.work->Wait();
  if (s.ok() && entry.staging.defined()) {
    const int64_t lo = std::max(entry.bucket.begin, shard_begin_);
    const int64_t hi = std::min(entry.bucket.end, shard_begin_ + shard_numel_);
    try {
      torch::NoGradGuard no_grad;
      if (lo < hi) {
        shard_grads_.narrow(0, lo - shard_begin_, hi - lo)
            .copy_(entry.staging.narrow(0, lo - entry.bucket.begin, hi - lo));
      }
    } catch (const std::exception& e) {
      s = absl::InternalError(absl::StrCat("rank ", collectives_.rank(), ": keeping the shard's gradient: ", e.what()));
    }
  }
  if (entry.staging.defined()) staging_bytes_ -= entry.staging.nbytes();
  if (!s.ok() && launch_error_.ok()) launch_error_ = s;
}

void ZeroOptimizer::ReleaseParamGrads() {
  for (torch::Tensor& p : params_) p.mutable_grad() = torch::Tensor();
}

torch::Tensor ZeroOptimizer::OwnedGrads() {
  if (options_.stage == 0) return flat_.grads();
  if (options_.stage == 2) return shard_grads_;
  return flat_.grads().narrow(0, shard_begin_, shard_numel_);
}

int64_t ZeroOptimizer::gradient_bytes() const {
  int64_t bytes = 0;
  if (flat_.grads().defined()) {
    bytes += flat_.grads().nbytes();  // the parameters' gradients are views of it
  } else {
    for (const torch::Tensor& p : params_) {
      if (p.grad().defined()) bytes += p.grad().nbytes();
    }
  }
  if (shard_grads_.defined()) bytes += shard_grads_.nbytes();
  return bytes + staging_bytes_;
}

void ZeroOptimizer::SampleGradientBytes(int64_t extra) {
  peak_gradient_bytes_ = std::max(peak_gradient_bytes_, gradient_bytes() + extra);
}

int64_t ZeroOptimizer::peak_model_state_bytes() const {
  return flat_.values().nbytes() + state_bytes() + peak_gradient_bytes_;
}

std::optional<double> ZeroOptimizer::CommOverlap() const {
  const BucketTrace trace = buckets_->trace();
  if (trace.total_elements <= 0) return std::nullopt;
  return static_cast<double>(trace.elements_launched_with_pending) / static_cast<double>(trace.total_elements);
}

absl::StatusOr<double> ZeroOptimizer::FinishGradients() {
  buckets_->Flush();
  while (!in_flight_.empty()) CompleteOldest();
  // After a failed launch some buckets kept their parameters' gradients.
  if (options_.stage == 2) ReleaseParamGrads();
  absl::Status status = launch_error_;
  launch_error_ = absl::OkStatus();
  if (!status.ok()) return status;
  // Stage 0: every rank has the whole summed gradient. Stages 1-2: the
  // global norm is the root of the sum of each shard's squares.
  const double local = SumOfSquares(OwnedGrads());
  if (options_.stage == 0) return std::sqrt(local);
  auto sum = collectives_.SumDoubles({local}, "the gradient norm");
  if (!sum.ok()) return sum.status();
  return std::sqrt((*sum)[0]);
}

absl::Status ZeroOptimizer::Update(double learning_rate, double max_grad_norm, double grad_norm) {
  try {
    // bf16 gradients are clipped and applied in fp32 (one rounding, not one
    // more for the clip), widened a chunk at a time inside AdamW.
    const torch::Tensor owned = OwnedGrads();
    SampleGradientBytes(owned.scalar_type() == torch::kFloat32
                            ? 0
                            : std::min(AdamW::kChunkElements, owned.numel()) * int64_t{4});
    adamw_->Step(owned, learning_rate, ClipFactor(grad_norm, max_grad_norm));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("rank ", collectives_.rank(), ": AdamW step failed: ", e.what()));
  }
  if (options_.stage == 0) return absl::OkStatus();
  torch::Tensor values = flat_.values();
  return collectives_.AllGather(values.narrow(0, shard_begin_, shard_numel_), values, "the updated parameters");
}

std::optional<OptimizerShardState> ZeroOptimizer::SaveState() const {
  if (options_.stage == 0 && collectives_.rank() != 0) return std::nullopt;
  return SaveAdamWState(*adamw_, state_begin(), flat_);
}

absl::Status ZeroOptimizer::LoadState(const OptimizerShardState& state) {
  return LoadAdamWState(*adamw_, state_begin(), flat_, state);
}

std::vector<std::string> ZeroOptimizer::FirstStepReport() const {
  // Proof of overlap, read by tests: gradients still to come when the
  // first bucket's reduction started.
  const BucketTrace trace = buckets_->trace();
  return {absl::StrFormat("rank %d: first gradient bucket launched with %d of %d gradients pending; %d buckets "
                          "launched during backward, %d after",
                          collectives_.rank(), trace.pending_at_first_launch, trace.total_params,
                          trace.launched_during_backward, trace.launched_after_backward)};
}

std::vector<std::string> ZeroOptimizer::LastStepReport() const {
  int64_t largest_bucket = 0;
  for (const GradBucket& b : buckets_->buckets()) {
    largest_bucket = std::max<int64_t>(largest_bucket, (b.end - b.begin) * flat_.values().element_size());
  }
  const int64_t params = flat_.numel();
  const int64_t peak = peak_model_state_bytes();
  return {absl::StrFormat("rank %d: gradient memory after the step %d bytes (peak staging %d bytes, largest bucket "
                          "%d bytes)",
                          collectives_.rank(), gradient_bytes(), peak_staging_bytes(), largest_bucket),
          absl::StrFormat("rank %d: model state peak %d bytes for %d parameters (%.2f bytes per parameter): weights "
                          "%d, optimizer state %d, gradients at their peak %d",
                          collectives_.rank(), peak, params,
                          static_cast<double>(peak) / static_cast<double>(std::max<int64_t>(1, params)),
                          flat_.values().nbytes(), state_bytes(), peak_gradient_bytes())};
}

}  // namespace tunefleet
