#pragma once
// A Tokenizer for tests: one id per byte (id = byte value, 0..255) plus the
// special tokens it is given (ids 256, 257, ...). Decoding is exact, so a
// test can check which text a loss mask covers.

#include <map>
#include <string>
#include <vector>

#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {

class FakeTokenizer : public Tokenizer {
 public:
  explicit FakeTokenizer(std::vector<std::string> special_tokens);

  // The special tokens of both chat templates and <|endoftext|>.
  static FakeTokenizer WithAllSpecials();

  std::vector<int32_t> Encode(absl::string_view text, bool parse_special = true) const override;
  std::string Decode(const std::vector<int32_t>& ids, bool skip_special = false) const override;
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  int32_t VocabSize() const override;

 private:
  std::vector<std::string> specials_;
  std::map<std::string, int32_t, std::less<>> special_ids_;
};

}  // namespace tunefleet
