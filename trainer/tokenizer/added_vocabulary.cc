#include "trainer/tokenizer/added_vocabulary.h"

#include <algorithm>
#include <utility>

#include "trainer/tokenizer/unicode.h"

namespace tunefleet {
namespace {

using unicode::CharClass;

// The start of the character that ends just before byte `pos`.
size_t PrevCharStart(absl::string_view text, size_t pos) {
  size_t start = pos - 1;
  while (start > 0 && pos - start < 4 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  // Only accept it if it decodes to exactly [start, pos); else a single byte.
  const unicode::DecodedChar d = unicode::DecodeUtf8(text, start);
  return start + d.length == pos ? start : pos - 1;
}

CharClass ClassBefore(absl::string_view text, size_t pos) {
  uint32_t length = 0;
  return unicode::ClassAt(text, PrevCharStart(text, pos), &length);
}

// Rust's char::is_alphanumeric() || '_' (HF's word test for single_word).
bool IsWordChar(absl::string_view text, size_t pos, CharClass cls) {
  return cls == CharClass::kLetter || cls == CharClass::kNumber || text[pos] == '_';
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns)
    : tokens_(std::move(tokens)), patterns_(std::move(patterns)), by_first_byte_(256) {
  for (size_t i = 0; i < patterns_.size(); ++i) {
    if (patterns_[i].empty()) continue;
    by_first_byte_[static_cast<unsigned char>(patterns_[i][0])].push_back(i);
  }
  for (auto& bucket : by_first_byte_) {
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](size_t a, size_t b) { return patterns_[a].size() > patterns_[b].size(); });
  }
}

bool AddedTokenMatcher::FindFrom(absl::string_view text, size_t from, Match* match) const {
  for (size_t pos = from; pos < text.size(); ++pos) {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(text[pos])];
    for (size_t i : bucket) {
      const std::string& p = patterns_[i];
      if (text.size() - pos >= p.size() && text.compare(pos, p.size(), p) == 0) {
        *match = {pos, pos + p.size(), i};
        return true;
      }
    }
  }
  return false;
}

std::vector<Segment> AddedTokenMatcher::Split(absl::string_view text, bool parse_special) const {
  std::vector<Segment> segments;
  size_t done = 0;  // text before this is already in segments
  Match m;
  for (size_t from = 0; from < text.size() && FindFrom(text, from, &m); from = m.end) {
    const AddedToken& token = tokens_[m.token];
    if (token.special && !parse_special) continue;
    size_t begin = m.begin, end = m.end;
    if (token.single_word) {
      uint32_t length = 0;
      const bool word_before = begin > 0 && IsWordChar(text, PrevCharStart(text, begin), ClassBefore(text, begin));
      const bool word_after = end < text.size() && IsWordChar(text, end, unicode::ClassAt(text, end, &length));
      if (word_before || word_after) continue;
    }
    if (begin < done) continue;  // swallowed by the previous token's rstrip
    if (token.lstrip) {
      while (begin > done && ClassBefore(text, begin) == CharClass::kWhitespace) begin = PrevCharStart(text, begin);
    }
    if (token.rstrip) {
      uint32_t length = 0;
      while (end < text.size() && unicode::ClassAt(text, end, &length) == CharClass::kWhitespace) end += length;
    }
    if (done < begin) segments.push_back({text.substr(done, begin - done), -1});
    segments.push_back({absl::string_view(), token.id});
    done = end;
    m.end = end;
  }
  if (done < text.size()) segments.push_back({text.substr(done), -1});
  return segments;
}

}  // namespace tunefleet
