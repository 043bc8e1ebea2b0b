#pragma once
// The little Unicode the tokenizer needs: UTF-8 decoding that tolerates
// invalid bytes, the \p{L} / \p{N} / \s classes of the pre-tokenizer regexes,
// and NFC normalisation.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tunefleet {
namespace unicode {

enum class CharClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kWhitespace = 3 };

// One decoded code point. Input is bytes, not promised UTF-8: an invalid or
// truncated sequence decodes as one byte (length 1) with `valid` false, so a
// byte-level tokenizer still encodes every byte and callers never stall.
struct DecodedChar {
  char32_t cp;
  uint32_t length;
  bool valid;
};
DecodedChar DecodeUtf8(absl::string_view text, size_t pos);

void AppendUtf8(char32_t cp, std::string* out);

// Class of a code point; invalid bytes are kOther (like punctuation).
CharClass ClassOf(char32_t cp);

// Class of the character starting at text[pos] (an invalid byte is kOther).
inline CharClass ClassAt(absl::string_view text, size_t pos, uint32_t* length) {
  const unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c < 0x80) {
    *length = 1;
    return ClassOf(c);
  }
  const DecodedChar d = DecodeUtf8(text, pos);
  *length = d.length;
  return d.valid ? ClassOf(d.cp) : CharClass::kOther;
}

// Canonical composition (NFC) of text. Invalid UTF-8 bytes pass through
// unchanged and act as starters that compose with nothing.
std::string Nfc(absl::string_view text);

// Appends the Unicode replacement-decoded form of `bytes` to out: valid UTF-8
// is copied, each maximal invalid subpart becomes U+FFFD, as Rust's
// String::from_utf8_lossy (and so HF's decoders) do.
void AppendUtf8Lossy(absl::string_view bytes, std::string* out);

}  // namespace unicode
}  // namespace tunefleet
