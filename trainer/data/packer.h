#pragma once
// Lays tokenized examples out in fixed-length sequences.
//
// With packing, examples are concatenated greedily in the order given (an
// example that does not fit the rest of a sequence starts the next one; the
// rest is padding). Without, each example is a sequence of its own, padded.
// An example longer than sequence_length is truncated to it (counted in the
// stats); an example with no trainable token left (an empty text, a chat
// whose assistant turns were truncated away) is dropped and counted.
//
// The layout is kept as a plan (which examples, how long, in which row),
// not as materialised rows: 5 bytes per token instead of 32, and a micro
// batch is written out on demand (Gather).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/data/micro_batch.h"
#include "trainer/data/tokenized_example.h"

namespace tunefleet {

struct PackingOptions {
  int32_t sequence_length = 512;
  bool packing = true;
};

struct PackingStats {
  int64_t examples = 0;            // examples laid out
  int64_t dropped_examples = 0;    // no trainable token (after truncation)
  int64_t truncated_examples = 0;  // longer than sequence_length
  int64_t truncated_tokens = 0;    // tokens cut off them
  int64_t sequences = 0;
  int64_t tokens = 0;              // non-padding tokens in all sequences
  int64_t padding_tokens = 0;
  int64_t loss_tokens = 0;         // labels that count in the loss

  std::string ToString() const;
};

class PackedDataset {
 public:
  PackedDataset() = default;

  // INVALID_ARGUMENT if sequence_length < 2.
  static absl::StatusOr<PackedDataset> Build(const std::vector<TokenizedExample>& examples,
                                             const PackingOptions& options);

  int64_t num_sequences() const { return static_cast<int64_t>(sequence_begin_.size()) - 1; }
  int32_t sequence_length() const { return sequence_length_; }
  const PackingStats& stats() const { return stats_; }
  // Labels that count in the loss in one sequence (so the trainer can
  // normalise a global batch's loss without a collective).
  int64_t loss_tokens(int64_t sequence) const { return sequence_loss_tokens_[static_cast<size_t>(sequence)]; }
  // Examples (pieces of examples, once each) in one sequence, and its
  // non-padding tokens: what multi-task reporting counts per task.
  int64_t examples(int64_t sequence) const {
    return sequence_begin_[static_cast<size_t>(sequence) + 1] - sequence_begin_[static_cast<size_t>(sequence)];
  }
  int64_t tokens(int64_t sequence) const;

  // A hash of the whole layout (every id, loss bit, boundary and the
  // sequence length). Saved beside a DataPosition, it tells a resumed job
  // whether it sees the same data (file, tokenizer, seed, packing) as
  // before; if not, the position would point at other batches.
  uint64_t fingerprint() const { return fingerprint_; }

  // Rows i = sequence sequence_indices[i]. Indices must be in range.
  MicroBatch Gather(const std::vector<int64_t>& sequence_indices) const;

  // Writes one sequence into row `row` of `batch` (sized by the caller).
  void WriteRow(int64_t sequence, int row, MicroBatch* batch) const;

 private:
  uint64_t ComputeFingerprint() const;

  int32_t sequence_length_ = 0;
  // Kept example e, already truncated, is
  // tokens_/loss_[example_begin_[e] .. example_begin_[e + 1]).
  std::vector<int32_t> tokens_;
  std::vector<uint8_t> loss_;
  std::vector<int64_t> example_begin_{0};
  // Sequence s holds the examples pieces_[sequence_begin_[s] .. sequence_begin_[s + 1]).
  std::vector<int64_t> pieces_;
  std::vector<int64_t> sequence_begin_{0};
  std::vector<int64_t> sequence_loss_tokens_;
  PackingStats stats_;
  uint64_t fingerprint_ = 0;
};

}  // namespace tunefleet
