#pragma once
// The pre-tokenizer regexes that byte-level BPE tokenizers use, recognised by
// their pattern text and run by hand-written matchers: std::regex has no
// \p{L}/\p{N} and no lookahead, and these few patterns are all we need.
// Each matcher reproduces Oniguruma's leftmost-first backtracking semantics
// (the engine HF tokenizers uses) for its pattern.

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace tunefleet {

enum class SplitRegex {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  // (GPT-2; also what the ByteLevel pre-tokenizer runs when use_regex is true).
  kGpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  //  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+   (Llama 3)
  kLlama3,
  // As kLlama3 with \p{N} (one digit per piece) instead of \p{N}{1,3} (Qwen2, Qwen3).
  kQwen2,
};

// The pattern's text as it appears in tokenizer.json.
absl::string_view SplitRegexPattern(SplitRegex re);

// Recognises a pattern. Insignificant differences are forgiven: surrounding
// whitespace. Anything else is unknown (nullopt) and the caller reports it.
std::optional<SplitRegex> RecognizeSplitRegex(absl::string_view pattern);

// The regex's successive non-overlapping matches in text, as byte ranges
// [begin, end), as a find-all from left to right returns them.
std::vector<std::pair<size_t, size_t>> FindRegexMatches(SplitRegex re, absl::string_view text);

}  // namespace tunefleet
