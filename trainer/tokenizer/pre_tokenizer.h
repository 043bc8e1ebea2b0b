#pragma once
// Pre-tokenizers: split normalised text into the pieces BPE runs on, as HF
// tokenizers' ByteLevel, Split, Digits and Sequence do. Each step rewrites the list
// of pieces; the ByteLevel step also maps bytes to the byte-level alphabet.

#include <memory>
#include <string>
#include <vector>

#include "trainer/tokenizer/split_regex.h"

namespace tunefleet {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void Apply(std::vector<std::string>* pieces) const = 0;
};

// HF's SplitDelimiterBehavior values we support.
enum class SplitBehavior { kIsolated, kRemoved };

// ByteLevel: optionally prefixes a space to each piece that lacks one, splits
// it with the GPT-2 regex when use_regex, and maps its bytes to the alphabet.
std::unique_ptr<PreTokenizer> MakeByteLevelPreTokenizer(bool add_prefix_space, bool use_regex);

// Split on a recognised regex. With invert, the matches are the content and
// what lies between them the delimiters.
std::unique_ptr<PreTokenizer> MakeRegexSplit(SplitRegex re, SplitBehavior behavior, bool invert);

// Split on a literal string (HF's {"String": ...} pattern).
std::unique_ptr<PreTokenizer> MakeStringSplit(std::string delimiter, SplitBehavior behavior, bool invert);

// HF's Digits: numbers split from the rest, one piece per digit when
// individual_digits (SmolLM's tokenizer), else per run of digits.
std::unique_ptr<PreTokenizer> MakeDigits(bool individual_digits);

std::unique_ptr<PreTokenizer> MakeSequence(std::vector<std::unique_ptr<PreTokenizer>> steps);

}  // namespace tunefleet
