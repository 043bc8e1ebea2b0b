#pragma once
// A Hugging Face tokenizer.json tokenizer (byte-level BPE), as the data
// pipeline and the exporter see it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tunefleet {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads <path> (a tokenizer.json). Errors name the file and what is wrong.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);

  // As FromFile, from the text of a tokenizer.json; errors name `source_name`.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(absl::string_view json_text,
                                                             const std::string& source_name);

  // Encodes text. When `parse_special` is true, added/special tokens written
  // literally in the text ("<|im_start|>") become their ids, as HF does;
  // when false they are encoded as plain text. Never adds BOS/EOS itself.
  // (As HF's encode_special_tokens, parse_special false leaves only tokens
  // marked "special" in the text; non-special added tokens still match.)
  // Input need not be valid UTF-8: stray bytes are encoded byte-level.
  // Thread-safe.
  virtual std::vector<int32_t> Encode(absl::string_view text, bool parse_special = true) const = 0;

  // Decodes ids back to text (special tokens included verbatim unless skipped).
  virtual std::string Decode(const std::vector<int32_t>& ids, bool skip_special = false) const = 0;

  // The id of a token string (vocabulary or added token), if any.
  virtual std::optional<int32_t> TokenToId(absl::string_view token) const = 0;
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;

  // Vocabulary size including added tokens (max id + 1).
  virtual int32_t VocabSize() const = 0;
};

}  // namespace tunefleet
