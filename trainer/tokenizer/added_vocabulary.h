#pragma once
// Added tokens (tokenizer.json "added_tokens"): found in the text before any
// normalisation or pre-tokenisation and emitted whole, as HF tokenizers'
// AddedVocabulary does: leftmost match first, the longest at that position.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace tunefleet {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;       // the match also takes whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // only matches when not inside a word
  bool normalized = false;   // matched on normalised text instead of raw text
};

// A run of text, or an added token found in it.
struct Segment {
  absl::string_view text;  // empty when this is a token
  int32_t id = -1;         // >= 0 for a token
};

class AddedTokenMatcher {
 public:
  // `patterns[i]` is the string to look for for tokens[i] (its content, or
  // its normalised content).
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns);

  bool empty() const { return tokens_.empty(); }

  // Splits text into plain runs and tokens. With parse_special false, special
  // tokens are left in the text (HF's encode_special_tokens); non-special
  // added tokens are still matched, as in HF.
  std::vector<Segment> Split(absl::string_view text, bool parse_special) const;

 private:
  struct Match {
    size_t begin;
    size_t end;
    size_t token;
  };
  // The leftmost-longest occurrence at or after `from`; false if none.
  bool FindFrom(absl::string_view text, size_t from, Match* match) const;

  std::vector<AddedToken> tokens_;
  std::vector<std::string> patterns_;
  std::vector<std::vector<size_t>> by_first_byte_;  // pattern indices, longest first
};

}  // namespace tunefleet
