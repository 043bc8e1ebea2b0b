#include "trainer/data/packer.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "trainer/data/shuffle.h"

namespace tunefleet {
namespace {

// Positions t < length whose label counts: ids[t + 1] is a target of the same
// (possibly truncated) example.
int64_t CountLossTokens(const uint8_t* loss, int64_t length) {
  int64_t n = 0;
  for (int64_t t = 1; t < length; ++t) n += loss[t];
  return n;
}

}  // namespace

std::string PackingStats::ToString() const {
  const int64_t slots = tokens + padding_tokens;
  return absl::StrCat(examples, " examples in ", sequences, " sequences (", tokens, " tokens, ", loss_tokens,
                      " trained, ", slots > 0 ? 100 * padding_tokens / slots : 0, "% padding); ", truncated_examples,
                      " truncated (", truncated_tokens, " tokens cut), ", dropped_examples,
                      " dropped with nothing to train on");
}

absl::StatusOr<PackedDataset> PackedDataset::Build(const std::vector<TokenizedExample>& examples,
                                                   const PackingOptions& options) {
  if (options.sequence_length < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("sequence_length must be at least 2, got ", options.sequence_length));
  }
  PackedDataset d;
  d.sequence_length_ = options.sequence_length;
  const int64_t capacity = options.sequence_length;
  int64_t fill = 0;  // tokens in the open sequence
  auto close_sequence = [&] {
    d.sequence_begin_.push_back(static_cast<int64_t>(d.pieces_.size()));
    d.stats_.padding_tokens += capacity - fill;
    fill = 0;
  };
  d.sequence_loss_tokens_.reserve(examples.size());
  int64_t open_loss = 0;  // loss tokens of the open sequence
  for (const TokenizedExample& ex : examples) {
    const int64_t length = std::min(ex.size(), capacity);
    const int64_t loss = CountLossTokens(ex.loss.data(), length);
    if (ex.size() > capacity) {
      ++d.stats_.truncated_examples;
      d.stats_.truncated_tokens += ex.size() - capacity;
    }
    if (loss == 0) {
      // A row of nothing but ignored labels costs a forward pass for no gradient.
      ++d.stats_.dropped_examples;
      continue;
    }
    const bool open = static_cast<int64_t>(d.pieces_.size()) > d.sequence_begin_.back();
    if (open && (!options.packing || fill + length > capacity)) {
      close_sequence();
      d.sequence_loss_tokens_.push_back(open_loss);
      open_loss = 0;
    }
    const auto example_index = static_cast<int64_t>(d.example_begin_.size()) - 1;
    d.tokens_.insert(d.tokens_.end(), ex.ids.begin(), ex.ids.begin() + length);
    d.loss_.insert(d.loss_.end(), ex.loss.begin(), ex.loss.begin() + length);
    d.example_begin_.push_back(static_cast<int64_t>(d.tokens_.size()));
    d.pieces_.push_back(example_index);
    fill += length;
    open_loss += loss;
    ++d.stats_.examples;
    d.stats_.tokens += length;
    d.stats_.loss_tokens += loss;
  }
  if (static_cast<int64_t>(d.pieces_.size()) > d.sequence_begin_.back()) {
    close_sequence();
    d.sequence_loss_tokens_.push_back(open_loss);
  }
  d.stats_.sequences = d.num_sequences();
  d.fingerprint_ = d.ComputeFingerprint();
  return d;
}

uint64_t PackedDataset::ComputeFingerprint() const {
  uint64_t h = Mix64(static_cast<uint64_t>(sequence_length_));
  auto add = [&h](uint64_t v) { h = Mix64(h ^ v) + 0x9e3779b97f4a7c15ULL; };
  for (size_t i = 0; i < tokens_.size(); ++i) add((static_cast<uint64_t>(static_cast<uint32_t>(tokens_[i])) << 1) | loss_[i]);
  for (int64_t b : example_begin_) add(static_cast<uint64_t>(b));
  for (int64_t b : sequence_begin_) add(static_cast<uint64_t>(b));
  return h;
}

int64_t PackedDataset::tokens(int64_t sequence) const {
  const auto s = static_cast<size_t>(sequence);
  int64_t n = 0;
  for (int64_t p = sequence_begin_[s]; p < sequence_begin_[s + 1]; ++p) {
    const auto e = static_cast<size_t>(pieces_[static_cast<size_t>(p)]);
    n += example_begin_[e + 1] - example_begin_[e];
  }
  return n;
}

void PackedDataset::WriteRow(int64_t sequence, int row, MicroBatch* batch) const {
  const int64_t offset = static_cast<int64_t>(row) * sequence_length_;
  int64_t* ids = batch->input_ids.data() + offset;
  int64_t* labels = batch->labels.data() + offset;
  int64_t* positions = batch->position_ids.data() + offset;
  int64_t* segments = batch->segment_ids.data() + offset;
  int64_t t = 0;
  int64_t segment = kPadSegmentId;
  const auto s = static_cast<size_t>(sequence);
  for (int64_t p = sequence_begin_[s]; p < sequence_begin_[s + 1]; ++p) {
    const auto e = static_cast<size_t>(pieces_[static_cast<size_t>(p)]);
    const int64_t begin = example_begin_[e];
    const int64_t length = example_begin_[e + 1] - begin;
    ++segment;
    for (int64_t i = 0; i < length; ++i, ++t) {
      ids[t] = tokens_[static_cast<size_t>(begin + i)];
      // Pre-shifted: predict the next token, if it is a target of this example.
      // The last position of an example has no next token of its own: ignored.
      const bool next_is_target = i + 1 < length && loss_[static_cast<size_t>(begin + i + 1)] != 0;
      labels[t] = next_is_target ? tokens_[static_cast<size_t>(begin + i + 1)] : kIgnoreLabel;
      positions[t] = i;
      segments[t] = segment;
    }
  }
  for (; t < sequence_length_; ++t) {
    ids[t] = kPadTokenId;
    labels[t] = kIgnoreLabel;
    positions[t] = 0;
    segments[t] = kPadSegmentId;
  }
  batch->loss_tokens += sequence_loss_tokens_[s];
}

MicroBatch PackedDataset::Gather(const std::vector<int64_t>& sequence_indices) const {
  MicroBatch batch;
  batch.rows = static_cast<int>(sequence_indices.size());
  batch.seq_len = sequence_length_;
  const size_t n = sequence_indices.size() * static_cast<size_t>(sequence_length_);
  batch.input_ids.resize(n);
  batch.labels.resize(n);
  batch.position_ids.resize(n);
  batch.segment_ids.resize(n);
  for (size_t row = 0; row < sequence_indices.size(); ++row) {
    WriteRow(sequence_indices[row], static_cast<int>(row), &batch);
  }
  return batch;
}

}  // namespace tunefleet
