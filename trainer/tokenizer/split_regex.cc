#include "trainer/tokenizer/split_regex.h"

#include "absl/strings/ascii.h"
#include "trainer/tokenizer/unicode.h"

namespace tunefleet {
namespace {

using unicode::CharClass;

constexpr absl::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr absl::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr absl::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The text decoded once into characters, so matchers can look ahead freely.
struct Char {
  size_t offset;  // byte offset in the text
  char32_t cp;    // code point (an invalid byte: its value, class kOther)
  CharClass cls;
};

std::vector<Char> Decode(absl::string_view text) {
  std::vector<Char> chars;
  chars.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const unicode::DecodedChar d = unicode::DecodeUtf8(text, pos);
    chars.push_back({pos, d.cp, d.valid ? unicode::ClassOf(d.cp) : CharClass::kOther});
    pos += d.length;
  }
  return chars;
}

class Matcher {
 public:
  Matcher(const std::vector<Char>& chars, SplitRegex re) : c_(chars), n_(chars.size()), re_(re) {}

  // The end (character index) of the match that starts at character i; the
  // patterns always match at least one character, so matches tile the text.
  size_t MatchAt(size_t i) const {
    if (size_t end = Contraction(i)) return end;
    return re_ == SplitRegex::kGpt2 ? Gpt2Rest(i) : Llama3Rest(i);
  }

 private:
  bool Is(size_t i, CharClass cls) const { return i < n_ && c_[i].cls == cls; }
  bool IsCrLf(size_t i) const { return i < n_ && (c_[i].cp == '\r' || c_[i].cp == '\n'); }

  // Lower-cases for the (?i:...) contraction group of Llama 3 / Qwen2.
  // Oniguruma folds case by Unicode CaseFolding, where U+017F (long s) folds
  // to 's'; no other non-ASCII character folds to one of "stremvld".
  char32_t Fold(size_t i) const {
    const char32_t cp = c_[i].cp;
    if (re_ == SplitRegex::kGpt2) return cp;  // GPT-2's contractions are case-sensitive
    if (cp == 0x17F) return 's';
    return cp < 128 ? static_cast<char32_t>(absl::ascii_tolower(static_cast<unsigned char>(cp))) : cp;
  }

  // 's|'t|'re|'ve|'m|'ll|'d
  size_t Contraction(size_t i) const {
    if (c_[i].cp != '\'' || i + 1 >= n_) return 0;
    const char32_t a = Fold(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 >= n_) return 0;
    const char32_t b = Fold(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    return 0;
  }

  size_t RunOf(size_t i, CharClass cls) const {
    while (Is(i, cls)) ++i;
    return i;
  }

  // \s+(?!\S)|\s+ at a whitespace character i, given the run ends at j: the
  // lookahead gives back the run's last space when a non-space follows it.
  size_t TrailingSpace(size_t i, size_t j) const { return (j == n_ || j - i == 1) ? j : j - 1; }

  // | ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  size_t Gpt2Rest(size_t i) const {
    size_t k = i;
    if (c_[i].cp == ' ' && i + 1 < n_ && c_[i + 1].cls != CharClass::kWhitespace) k = i + 1;
    switch (c_[k].cls) {
      case CharClass::kLetter:
      case CharClass::kNumber:
      case CharClass::kOther:
        return RunOf(k, c_[k].cls);
      case CharClass::kWhitespace:
        break;
    }
    return TrailingSpace(i, RunOf(i, CharClass::kWhitespace));
  }

  // [^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  size_t Llama3Rest(size_t i) const {
    const Char& c = c_[i];
    if (c.cls == CharClass::kLetter) return RunOf(i, CharClass::kLetter);
    if (c.cls != CharClass::kNumber && !IsCrLf(i) && Is(i + 1, CharClass::kLetter)) {
      return RunOf(i + 1, CharClass::kLetter);
    }
    if (c.cls == CharClass::kNumber) {
      const size_t max_digits = re_ == SplitRegex::kLlama3 ? 3 : 1;
      size_t j = i + 1;
      while (j - i < max_digits && Is(j, CharClass::kNumber)) ++j;
      return j;
    }
    size_t k = i;
    if (c.cp == ' ' && Is(i + 1, CharClass::kOther)) k = i + 1;
    if (c_[k].cls == CharClass::kOther) {
      size_t j = RunOf(k, CharClass::kOther);
      while (IsCrLf(j)) ++j;
      return j;
    }
    // Whitespace. \s*[\r\n]+ backtracks to the run's last CR/LF.
    const size_t j = RunOf(i, CharClass::kWhitespace);
    for (size_t m = j; m > i; --m) {
      if (IsCrLf(m - 1)) return m;
    }
    return TrailingSpace(i, j);
  }

  const std::vector<Char>& c_;
  const size_t n_;
  const SplitRegex re_;
};

}  // namespace

absl::string_view SplitRegexPattern(SplitRegex re) {
  switch (re) {
    case SplitRegex::kGpt2:
      return kGpt2Pattern;
    case SplitRegex::kLlama3:
      return kLlama3Pattern;
    case SplitRegex::kQwen2:
      return kQwen2Pattern;
  }
  return {};
}

std::optional<SplitRegex> RecognizeSplitRegex(absl::string_view pattern) {
  pattern = absl::StripAsciiWhitespace(pattern);
  for (SplitRegex re : {SplitRegex::kGpt2, SplitRegex::kLlama3, SplitRegex::kQwen2}) {
    if (pattern == SplitRegexPattern(re)) return re;
  }
  return std::nullopt;
}

std::vector<std::pair<size_t, size_t>> FindRegexMatches(SplitRegex re, absl::string_view text) {
  const std::vector<Char> chars = Decode(text);
  const Matcher matcher(chars, re);
  std::vector<std::pair<size_t, size_t>> matches;
  for (size_t i = 0; i < chars.size();) {
    const size_t end = matcher.MatchAt(i);
    matches.emplace_back(chars[i].offset, end < chars.size() ? chars[end].offset : text.size());
    i = end;
  }
  return matches;
}

}  // namespace tunefleet
