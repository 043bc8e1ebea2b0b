#pragma once
// The trainable parameters of a model, flattened into one contiguous buffer
// (and their gradients into another), with each parameter rebound as a view.
// Collectives and the sharded optimizer then move a few large tensors
// instead of hundreds of small ones. Parameters that get weight decay come
// first, so "decay" is the prefix [0, decay_numel) of the flat range.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"

namespace tunefleet {

struct FlatParameterSlot {
  std::string name;
  int64_t offset = 0;  // in elements, into the flat buffer
  int64_t numel = 0;
  std::vector<int64_t> shape;
  bool decay = true;
};

class FlatParameters {
 public:
  // Takes the trainable parameters by name; `no_decay(name)` says which get
  // no weight decay (biases, norms). `padded_numel` rounds the buffer up (the
  // ZeRO shards must divide it); the padding is zero and never read back.
  static absl::StatusOr<FlatParameters> Create(
      const std::vector<std::pair<std::string, torch::Tensor>>& params,
      const std::function<bool(const std::string&)>& no_decay, int64_t pad_to_multiple_of = 1);

  torch::Tensor& values() { return values_; }
  torch::Tensor& grads() { return grads_; }
  const std::vector<FlatParameterSlot>& slots() const { return slots_; }
  int64_t numel() const { return numel_; }          // real elements
  int64_t padded_numel() const { return values_.numel(); }
  int64_t decay_numel() const { return decay_numel_; }

  // Zeroes the flat gradient buffer (the per-parameter .grad views stay bound).
  void ZeroGrads() {
    if (grads_.defined()) grads_.zero_();
  }
  // Frees the flat gradient buffer once the caller has unbound the
  // parameters' .grad views: ZeRO stage 2 keeps only its shard's gradient.
  // grads() is undefined afterwards.
  void DropGradBuffer() { grads_ = torch::Tensor(); }

 private:
  torch::Tensor values_;
  torch::Tensor grads_;
  std::vector<FlatParameterSlot> slots_;
  int64_t numel_ = 0;
  int64_t decay_numel_ = 0;
};

}  // namespace tunefleet
