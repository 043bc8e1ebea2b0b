#include "trainer/dist/grad_buckets.h"

#include <algorithm>

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace tunefleet {

struct GradBuckets::State {
  std::mutex mu;
  GradBuckets* owner = nullptr;  // null once the owner is gone
  bool armed = false;
  std::vector<int> bucket_of_param;
  std::vector<int> remaining;  // per bucket, params still to fire
  std::vector<bool> fired;     // per param, this backward
  int next_launch = 0;
  int pending_params = 0;
  LaunchFn launch;
  BucketTrace trace;
};

class GradBuckets::ReadyHook : public torch::autograd::FunctionPostHook {
 public:
  ReadyHook(std::shared_ptr<State> state, int param) : state_(std::move(state)), param_(param) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->owner != nullptr) state_->owner->OnReady(param_);
    return outputs;
  }

 private:
  std::shared_ptr<State> state_;
  int param_;
};

GradBuckets::GradBuckets(FlatParameters& flat, const std::vector<torch::Tensor>& params, int64_t bucket_bytes,
                         LaunchFn launch)
    : state_(std::make_shared<State>()) {
  const auto& slots = flat.slots();
  const int64_t element_bytes = static_cast<int64_t>(flat.values().element_size());
  const int64_t cap = std::max<int64_t>(1, bucket_bytes / element_bytes);
  state_->bucket_of_param.assign(slots.size(), -1);
  // Decay group from its end backwards, cutting at parameter boundaries;
  // then the no-decay group as one bucket (it is small).
  int first_no_decay = static_cast<int>(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!slots[i].decay) {
      first_no_decay = static_cast<int>(i);
      break;
    }
  }
  GradBucket current;
  auto close = [&] {
    if (current.num_params > 0) buckets_.push_back(current);
    current = GradBucket{};
  };
  for (int i = first_no_decay - 1; i >= 0; --i) {
    const auto& slot = slots[i];
    if (current.num_params > 0 && current.end - slot.offset > cap) close();
    if (current.num_params == 0) current.end = slot.offset + slot.numel;
    current.begin = slot.offset;
    ++current.num_params;
    state_->bucket_of_param[i] = static_cast<int>(buckets_.size());
  }
  close();
  for (int i = first_no_decay; i < static_cast<int>(slots.size()); ++i) {
    if (current.num_params == 0) current.begin = slots[i].offset;
    current.end = slots[i].offset + slots[i].numel;
    ++current.num_params;
    state_->bucket_of_param[i] = static_cast<int>(buckets_.size());
  }
  close();
  // The padding rides with the bucket that ends at numel.
  for (GradBucket& b : buckets_) {
    if (b.end == flat.numel()) b.end = flat.padded_numel();
  }
  state_->owner = this;
  state_->launch = std::move(launch);
  state_->trace.total_params = static_cast<int>(slots.size());
  state_->remaining.assign(buckets_.size(), 0);
  state_->fired.assign(slots.size(), false);
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(params[i]);
    accumulator->add_post_hook(std::make_unique<ReadyHook>(state_, static_cast<int>(i)));
    accumulators_.push_back(std::move(accumulator));
  }
}

GradBuckets::~GradBuckets() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->owner = nullptr;
}

void GradBuckets::Arm() {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& s = *state_;
  s.armed = true;
  s.next_launch = 0;
  std::fill(s.remaining.begin(), s.remaining.end(), 0);
  for (int b : s.bucket_of_param) ++s.remaining[b];
  std::fill(s.fired.begin(), s.fired.end(), false);
  s.pending_params = static_cast<int>(s.fired.size());
  s.trace = BucketTrace{};
  s.trace.total_params = s.pending_params;
  for (const GradBucket& b : buckets_) s.trace.total_elements += b.end - b.begin;
}

// Called with state_->mu held, from the backward pass.
void GradBuckets::OnReady(int param) {
  State& s = *state_;
  if (!s.armed || s.fired[param]) return;
  s.fired[param] = true;
  --s.pending_params;
  --s.remaining[s.bucket_of_param[param]];
  while (s.next_launch < static_cast<int>(buckets_.size()) && s.remaining[s.next_launch] == 0) {
    if (s.trace.pending_at_first_launch < 0) s.trace.pending_at_first_launch = s.pending_params;
    ++s.trace.launched_during_backward;
    const GradBucket& bucket = buckets_[s.next_launch];
    if (s.pending_params > 0) s.trace.elements_launched_with_pending += bucket.end - bucket.begin;
    s.launch(s.next_launch, buckets_[s.next_launch]);
    ++s.next_launch;
  }
}

void GradBuckets::Flush() {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& s = *state_;
  if (!s.armed) return;
  while (s.next_launch < static_cast<int>(buckets_.size())) {
    ++s.trace.launched_after_backward;
    s.launch(s.next_launch, buckets_[s.next_launch]);
    ++s.next_launch;
  }
  s.armed = false;
}

BucketTrace GradBuckets::trace() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->trace;
}

}  // namespace tunefleet
