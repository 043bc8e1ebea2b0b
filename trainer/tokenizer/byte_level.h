#pragma once
// GPT-2's byte-level alphabet (bytes_to_unicode): every byte maps to one
// printable code point, so any byte string becomes a vocabulary string and
// back. Printable Latin-1 bytes map to themselves; the rest (controls, space,
// 0x7F-0xA0, 0xAD) to U+0100 onwards in byte order.

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tunefleet {

class ByteLevelAlphabet {
 public:
  static const ByteLevelAlphabet& Get();

  // The UTF-8 of the code point byte b maps to.
  const std::string& Encode(unsigned char b) const { return encoded_[b]; }
  void AppendEncoded(absl::string_view bytes, std::string* out) const;

  // Maps a vocabulary string back to bytes. Returns false (leaving *out
  // partly appended) if some character is not in the alphabet.
  bool AppendDecoded(absl::string_view token, std::string* out) const;

  // The code point byte b maps to.
  char32_t CodePoint(unsigned char b) const { return code_points_[b]; }

 private:
  ByteLevelAlphabet();
  std::array<char32_t, 256> code_points_{};
  std::array<std::string, 256> encoded_;
  std::array<int16_t, 324> byte_of_{};  // code point (< 324) -> byte, or -1
};

}  // namespace tunefleet
