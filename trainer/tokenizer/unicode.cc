// UTF-8 handling and character classes. NFC lives in nfc.cc.

#include "trainer/tokenizer/unicode.h"

#include <algorithm>
#include <array>

#include "trainer/tokenizer/unicode_tables.h"

namespace tunefleet {
namespace unicode {
namespace {

// Decodes one code point at text[pos]. On an invalid sequence returns false
// and sets *length to the maximal subpart (Unicode's "substitution of maximal
// subparts", which Rust's from_utf8_lossy and WHATWG decoders follow).
bool DecodeStrict(absl::string_view text, size_t pos, char32_t* cp, uint32_t* length) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char c = byte(pos);
  if (c < 0x80) {
    *cp = c;
    *length = 1;
    return true;
  }
  uint32_t need;
  char32_t value;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
    value = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    value = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;  // no overlongs
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    value = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    *length = 1;
    return false;
  }
  uint32_t i = 1;
  for (; i <= need; ++i) {
    if (pos + i >= text.size()) break;
    const unsigned char b = byte(pos + i);
    const unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
    if (b < min || b > max) break;
    value = (value << 6) | (b & 0x3F);
  }
  *length = i > need ? need + 1 : i;
  if (i <= need) return false;
  *cp = value;
  return true;
}

// Classes of ASCII, looked up on every byte of typical text.
const std::array<CharClass, 128>& AsciiClasses() {
  static const std::array<CharClass, 128> table = [] {
    std::array<CharClass, 128> t{};
    for (char32_t c = 0; c < 128; ++c) {
      t[c] = CharClass::kOther;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t[c] = CharClass::kLetter;
      if (c >= '0' && c <= '9') t[c] = CharClass::kNumber;
      if (c == ' ' || (c >= 0x09 && c <= 0x0D)) t[c] = CharClass::kWhitespace;
    }
    return t;
  }();
  return table;
}

}  // namespace

DecodedChar DecodeUtf8(absl::string_view text, size_t pos) {
  char32_t cp = 0;
  uint32_t length = 0;
  if (DecodeStrict(text, pos, &cp, &length)) return {cp, length, true};
  // Invalid: one raw byte at a time, reported as its byte value.
  return {static_cast<unsigned char>(text[pos]), 1, false};
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

CharClass ClassOf(char32_t cp) {
  if (cp < 128) return AsciiClasses()[cp];
  using unicode_tables::ClassRange;
  const ClassRange* begin = unicode_tables::kClassRanges;
  const ClassRange* end = begin + unicode_tables::kNumClassRanges;
  const ClassRange* it =
      std::upper_bound(begin, end, cp, [](char32_t c, const ClassRange& r) { return c < r.first; });
  if (it == begin) return CharClass::kOther;
  --it;
  return cp <= it->last ? static_cast<CharClass>(it->cls) : CharClass::kOther;
}

void AppendUtf8Lossy(absl::string_view bytes, std::string* out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    char32_t cp = 0;
    uint32_t length = 0;
    if (DecodeStrict(bytes, pos, &cp, &length)) {
      out->append(bytes.data() + pos, length);
    } else {
      out->append("\xEF\xBF\xBD");  // U+FFFD
    }
    pos += length;
  }
}

}  // namespace unicode
}  // namespace tunefleet
