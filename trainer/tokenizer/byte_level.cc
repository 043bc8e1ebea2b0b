#include "trainer/tokenizer/byte_level.h"

#include "trainer/tokenizer/unicode.h"

namespace tunefleet {

ByteLevelAlphabet::ByteLevelAlphabet() {
  byte_of_.fill(-1);
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const char32_t cp = printable ? static_cast<char32_t>(b) : next++;
    code_points_[b] = cp;
    byte_of_[cp] = static_cast<int16_t>(b);
    unicode::AppendUtf8(cp, &encoded_[b]);
  }
}

const ByteLevelAlphabet& ByteLevelAlphabet::Get() {
  static const ByteLevelAlphabet* alphabet = new ByteLevelAlphabet();
  return *alphabet;
}

void ByteLevelAlphabet::AppendEncoded(absl::string_view bytes, std::string* out) const {
  for (const char c : bytes) out->append(encoded_[static_cast<unsigned char>(c)]);
}

bool ByteLevelAlphabet::AppendDecoded(absl::string_view token, std::string* out) const {
  size_t pos = 0;
  while (pos < token.size()) {
    const unicode::DecodedChar d = unicode::DecodeUtf8(token, pos);
    if (!d.valid || d.cp >= byte_of_.size() || byte_of_[d.cp] < 0) return false;
    out->push_back(static_cast<char>(byte_of_[d.cp]));
    pos += d.length;
  }
  return true;
}

}  // namespace tunefleet
