#include "trainer/tokenizer/pre_tokenizer.h"

#include <utility>

#include "trainer/tokenizer/byte_level.h"
#include "trainer/tokenizer/unicode.h"

namespace tunefleet {
namespace {

using Ranges = std::vector<std::pair<size_t, size_t>>;

// Keeps, from `piece` tiled into matched ranges and the gaps between them,
// what `behavior` asks for; pieces are never empty.
void AppendSplits(const std::string& piece, const Ranges& matches, SplitBehavior behavior, bool invert,
                  std::vector<std::string>* out) {
  const auto emit = [&](size_t begin, size_t end, bool is_match) {
    if (begin == end) return;
    const bool is_delimiter = is_match != invert;
    if (is_delimiter && behavior == SplitBehavior::kRemoved) return;
    out->emplace_back(piece, begin, end - begin);
  };
  size_t last = 0;
  for (const auto& [begin, end] : matches) {
    emit(last, begin, false);
    emit(begin, end, true);
    last = end;
  }
  emit(last, piece.size(), false);
}

class RegexSplit : public PreTokenizer {
 public:
  RegexSplit(SplitRegex re, SplitBehavior behavior, bool invert) : re_(re), behavior_(behavior), invert_(invert) {}

  void Apply(std::vector<std::string>* pieces) const override {
    std::vector<std::string> out;
    out.reserve(pieces->size() * 4);
    for (const std::string& piece : *pieces) {
      AppendSplits(piece, FindRegexMatches(re_, piece), behavior_, invert_, &out);
    }
    *pieces = std::move(out);
  }

 private:
  const SplitRegex re_;
  const SplitBehavior behavior_;
  const bool invert_;
};

class StringSplit : public PreTokenizer {
 public:
  StringSplit(std::string delimiter, SplitBehavior behavior, bool invert)
      : delimiter_(std::move(delimiter)), behavior_(behavior), invert_(invert) {}

  void Apply(std::vector<std::string>* pieces) const override {
    if (delimiter_.empty()) return;
    std::vector<std::string> out;
    for (const std::string& piece : *pieces) {
      Ranges matches;
      for (size_t at = piece.find(delimiter_); at != std::string::npos;
           at = piece.find(delimiter_, at + delimiter_.size())) {
        matches.emplace_back(at, at + delimiter_.size());
      }
      AppendSplits(piece, matches, behavior_, invert_, &out);
    }
    *pieces = std::move(out);
  }

 private:
  const std::string delimiter_;
  const SplitBehavior behavior_;
  const bool invert_;
};

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}

  void Apply(std::vector<std::string>* pieces) const override {
    // HF prefixes the space to every piece the step receives, before its
    // regex; its prepend leaves an empty string empty.
    if (add_prefix_space_) {
      for (std::string& piece : *pieces) {
        if (!piece.empty() && piece[0] != ' ') piece.insert(piece.begin(), ' ');
      }
    }
    if (use_regex_) RegexSplit(SplitRegex::kGpt2, SplitBehavior::kIsolated, false).Apply(pieces);
    const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::Get();
    std::string mapped;
    for (std::string& piece : *pieces) {
      mapped.clear();
      alphabet.AppendEncoded(piece, &mapped);
      piece.swap(mapped);
    }
  }

 private:
  const bool add_prefix_space_;
  const bool use_regex_;
};

// HF's Digits: numbers (\p{N}, Rust's char::is_numeric) isolated, each
// digit on its own or a run of them together.
class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}

  void Apply(std::vector<std::string>* pieces) const override {
    std::vector<std::string> out;
    out.reserve(pieces->size() * 2);
    Ranges matches;
    for (const std::string& piece : *pieces) {
      matches.clear();
      uint32_t length = 0;
      for (size_t pos = 0; pos < piece.size(); pos += length) {
        const bool digit = unicode::ClassAt(piece, pos, &length) == unicode::CharClass::kNumber;
        if (!digit) continue;
        if (!individual_ && !matches.empty() && matches.back().second == pos) {
          matches.back().second = pos + length;
        } else {
          matches.emplace_back(pos, pos + length);
        }
      }
      AppendSplits(piece, matches, SplitBehavior::kIsolated, false, &out);
    }
    *pieces = std::move(out);
  }

 private:
  const bool individual_;
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void Apply(std::vector<std::string>* pieces) const override {
    for (const auto& step : steps_) step->Apply(pieces);
  }

 private:
  const std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevel>(add_prefix_space, use_regex);
}

std::unique_ptr<PreTokenizer> MakeRegexSplit(SplitRegex re, SplitBehavior behavior, bool invert) {
  return std::make_unique<RegexSplit>(re, behavior, invert);
}

std::unique_ptr<PreTokenizer> MakeStringSplit(std::string delimiter, SplitBehavior behavior, bool invert) {
  return std::make_unique<StringSplit>(std::move(delimiter), behavior, invert);
}

std::unique_ptr<PreTokenizer> MakeDigits(bool individual_digits) {
  return std::make_unique<Digits>(individual_digits);
}

std::unique_ptr<PreTokenizer> MakeSequence(std::vector<std::unique_ptr<PreTokenizer>> steps) {
  return std::make_unique<Sequence>(std::move(steps));
}

}  // namespace tunefleet
