#include "trainer/tools/train_tokenizer_command.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "trainer/data/jsonl_reader.h"
#include "trainer/tokenizer/bpe_trainer.h"

namespace tunefleet {

void AddTrainTokenizerOptions(CLI::App& command, TrainTokenizerOptions& options) {
  command.add_option("--corpus", options.corpus_paths, "JSONL files of any dataset format")->required();
  command.add_option("--vocab-size", options.vocab_size, "Vocabulary size, special tokens included")
      ->capture_default_str();
  command.add_option("--out", options.out_path, "Where to write tokenizer.json")->required();
  command.add_option("--special-tokens", options.special_tokens, "Special tokens (the last ids)")
      ->capture_default_str();
}

absl::Status RunTrainTokenizer(const TrainTokenizerOptions& options) {
  std::vector<std::string> texts;
  for (const std::string& path : options.corpus_paths) {
    auto records = ReadJsonlFile(path, v1::DATASET_FORMAT_UNSPECIFIED);
    if (!records.ok()) return records.status();
    for (const auto& r : *records) {
      if (!r.text.empty()) texts.push_back(r.text);
      if (!r.prompt.empty()) texts.push_back(r.prompt);
      if (!r.completion.empty()) texts.push_back(r.completion);
      for (const auto& m : r.messages) texts.push_back(m.content);
    }
  }
  auto json = TrainByteLevelBpe(texts, options.vocab_size, options.special_tokens);
  if (!json.ok()) return json.status();
  std::ofstream out(options.out_path, std::ios::trunc);
  out << *json;
  out.flush();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", options.out_path));
  std::printf("wrote %s (%d tokens requested) from %zu texts\n", options.out_path.c_str(), options.vocab_size,
              texts.size());
  return absl::OkStatus();
}

}  // namespace tunefleet
