#pragma once
// Trains a small byte-level BPE vocabulary, for the models we pretrain
// ourselves: the output is a tokenizer.json in the Qwen2 style (NFC, Qwen2's
// split regex, byte-level alphabet and decoder) that Tokenizer::FromFile and
// Hugging Face's libraries load.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tunefleet {

struct BpeTrainerOptions {
  // A pair seen fewer times than this is never merged: training stops early
  // rather than learn one-off strings.
  int64_t min_frequency = 2;
};

// Learns merges on `texts` until the vocabulary (256 byte tokens + merges +
// special tokens) has vocab_size entries or no pair is frequent enough.
// Special tokens (e.g. "<|endoftext|>", "<|im_start|>", "<|im_end|>") take
// the last ids, are never split, and are cut out of the corpus before
// counting. Deterministic: among equally frequent pairs the one whose
// (left, right) token strings sort first wins.
// Returns the tokenizer.json text.
absl::StatusOr<std::string> TrainByteLevelBpe(const std::vector<std::string>& texts, int32_t vocab_size,
                                              const std::vector<std::string>& special_tokens,
                                              const BpeTrainerOptions& options = {});

}  // namespace tunefleet
