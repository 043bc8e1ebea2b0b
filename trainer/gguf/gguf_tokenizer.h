#pragma once
// The Hugging Face tokenizer files a GGUF file's metadata describes
// (tokenizer.ggml.*): tokenizer.json, tokenizer_config.json (with the chat
// template) and the token ids generation_config.json needs. Byte-level BPE
// ("gpt2" model) only; each pre-tokenizer llama.cpp names is mapped to the
// definition the model's published tokenizer.json has, and an unknown one is
// an error rather than a silently different tokenisation.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/gguf/gguf_file.h"

namespace tunefleet {

struct GgufTokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
  std::optional<int64_t> pad_token_id;
};

absl::StatusOr<GgufTokenizerFiles> GgufTokenizer(const GgufFile& file);

}  // namespace tunefleet
