#pragma once
// `tunefleet-trainer train-tokenizer`: a byte-level BPE tokenizer.json from a
// JSONL corpus, for the models tunefleet pretrains itself.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"

namespace tunefleet {

struct TrainTokenizerOptions {
  std::vector<std::string> corpus_paths;
  int vocab_size = 1024;
  std::string out_path;
  std::vector<std::string> special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
};

void AddTrainTokenizerOptions(CLI::App& command, TrainTokenizerOptions& options);
absl::Status RunTrainTokenizer(const TrainTokenizerOptions& options);

}  // namespace tunefleet
