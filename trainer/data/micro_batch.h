#pragma once
// The unit the trainer feeds to one forward pass: `rows` sequences of
// `seq_len` tokens, row-major [rows, seq_len], int64 so each field becomes
// a torch tensor without conversion.
//
// Conventions (the model and the loss rely on them):
// - labels are pre-shifted: labels[t] is the id the model should predict at
//   position t (input_ids[t + 1] of the same example) or kIgnoreLabel; the
//   loss is plain cross-entropy of logits[t] against labels[t].
// - segment_ids number the examples of a row 1, 2, ...; padding is segment
//   kPadSegmentId (0). Attention is causal AND same-segment, so no token
//   sees another example, and padding sees only padding (never an empty row
//   of the softmax).
// - position_ids restart at 0 at each example (RoPE sees each example as if
//   alone); padding has position 0.
// - padding has input id kPadTokenId (0, a real token in most vocabularies,
//   harmless as its label is ignored and nothing attends to it).

#include <cstdint>
#include <vector>

namespace tunefleet {

inline constexpr int64_t kIgnoreLabel = -100;  // PyTorch's cross_entropy ignore_index default
inline constexpr int64_t kPadTokenId = 0;
inline constexpr int64_t kPadSegmentId = 0;

struct MicroBatch {
  int rows = 0;
  int seq_len = 0;
  std::vector<int64_t> input_ids;
  std::vector<int64_t> labels;
  std::vector<int64_t> position_ids;
  std::vector<int64_t> segment_ids;
  int64_t loss_tokens = 0;  // labels != kIgnoreLabel
};

}  // namespace tunefleet
