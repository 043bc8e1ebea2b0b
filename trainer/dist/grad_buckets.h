#pragma once
// Gradient buckets that start their reduction during backward, as soon as
// every gradient in them is final (the DDP technique): each trainable
// parameter's gradient accumulator gets a post-hook; when a bucket's last
// parameter fires, the bucket is handed to `launch`. Buckets launch in one
// fixed order on every rank (a ready bucket waits for the ones before it),
// so the collectives match across ranks whatever order hooks fire in.
//
// Buckets are contiguous ranges of the flat gradient buffer, cut on
// parameter boundaries, ordered for backward: the flat buffer holds the
// weight-decay parameters in registration order (the last layers at the
// end, whose gradients come first), then the small no-decay group (norms),
// which goes last.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "trainer/optim/flat_parameters.h"

namespace tunefleet {

struct GradBucket {
  int64_t begin = 0;  // elements, into the flat buffer
  int64_t end = 0;
  int num_params = 0;
};

// What a test reads to see the overlap: how many parameters' gradients were
// still to come when the first bucket launched, in the last armed backward.
struct BucketTrace {
  int total_params = 0;
  int pending_at_first_launch = -1;  // -1: nothing launched during backward
  int launched_during_backward = 0;  // buckets launched from hooks
  int launched_after_backward = 0;   // buckets Flush() launched (unused params)
  // Elements of the flat buffer in every bucket, and in those launched while
  // other gradients were still to come: the communication that could run
  // under the rest of backward (the last bucket's never can).
  int64_t total_elements = 0;
  int64_t elements_launched_with_pending = 0;
};

class GradBuckets {
 public:
  using LaunchFn = std::function<void(int bucket_index, const GradBucket& bucket)>;

  // `params` are the module's parameters as in FlatParameters' slots (same
  // order, same count). The last bucket absorbs the buffer's padding.
  GradBuckets(FlatParameters& flat, const std::vector<torch::Tensor>& params, int64_t bucket_bytes, LaunchFn launch);
  ~GradBuckets();
  GradBuckets(const GradBuckets&) = delete;
  GradBuckets& operator=(const GradBuckets&) = delete;

  const std::vector<GradBucket>& buckets() const { return buckets_; }
  // Counts hooks in the next backward (the last micro-batch's); unarmed
  // backwards only accumulate locally.
  void Arm();
  // After backward: launches any bucket not launched (parameters that got no
  // gradient), disarms.
  void Flush();
  BucketTrace trace() const;

 private:
  struct State;
  class ReadyHook;
  void OnReady(int param);

  std::vector<GradBucket> buckets_;
  std::shared_ptr<State> state_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // kept alive: they hold the hooks
};

}  // namespace tunefleet
