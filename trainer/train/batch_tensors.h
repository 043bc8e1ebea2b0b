#pragma once
// A micro-batch as the model takes it: int64 tensors [rows, seq_len] on the
// training device.

#include <cstdint>

#include <torch/torch.h>

namespace tunefleet {

struct BatchTensors {
  torch::Tensor input_ids;
  torch::Tensor labels;        // pre-shifted; -100 where no loss
  torch::Tensor position_ids;  // restart at 0 for each packed example
  torch::Tensor segment_ids;   // attention never crosses a segment
  int64_t real_tokens = 0;     // tokens that are not padding
  int64_t loss_tokens = 0;     // labels != -100
  // Multi-task jobs only (undefined otherwise): each row's task index,
  // int64 [rows], and its task's loss_weight, float32 [rows].
  torch::Tensor row_tasks;
  torch::Tensor row_loss_weights;
};

}  // namespace tunefleet
