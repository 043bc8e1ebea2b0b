// Character classes, NFC, the byte-level alphabet and lossy UTF-8.

#include "trainer/tokenizer/unicode.h"

#include <gtest/gtest.h>

#include "trainer/tokenizer/byte_level.h"

namespace tunefleet {
namespace {

using unicode::CharClass;
using unicode::ClassOf;
using unicode::Nfc;

TEST(UnicodeTest, Classes) {
  EXPECT_EQ(ClassOf('a'), CharClass::kLetter);
  EXPECT_EQ(ClassOf(0x00E9), CharClass::kLetter);  // é
  EXPECT_EQ(ClassOf(0x4E2D), CharClass::kLetter);  // 中
  EXPECT_EQ(ClassOf(0x05D0), CharClass::kLetter);  // א
  EXPECT_EQ(ClassOf('7'), CharClass::kNumber);
  EXPECT_EQ(ClassOf(0x0663), CharClass::kNumber);  // Arabic-Indic 3
  EXPECT_EQ(ClassOf(0x00B2), CharClass::kNumber);  // ² (No)
  EXPECT_EQ(ClassOf(0x216B), CharClass::kNumber);  // Ⅻ (Nl)
  EXPECT_EQ(ClassOf(' '), CharClass::kWhitespace);
  EXPECT_EQ(ClassOf('\r'), CharClass::kWhitespace);
  EXPECT_EQ(ClassOf(0x00A0), CharClass::kWhitespace);
  EXPECT_EQ(ClassOf(0x3000), CharClass::kWhitespace);
  EXPECT_EQ(ClassOf(0x0085), CharClass::kWhitespace);
  EXPECT_EQ(ClassOf(0x001C), CharClass::kOther);  // isspace() in Python, not White_Space
  EXPECT_EQ(ClassOf(0x200B), CharClass::kOther);  // zero-width space is not White_Space
  EXPECT_EQ(ClassOf(0x0301), CharClass::kOther);  // combining mark (M*)
  EXPECT_EQ(ClassOf(0x1F600), CharClass::kOther);  // emoji
  EXPECT_EQ(ClassOf('!'), CharClass::kOther);
}

TEST(UnicodeTest, NfcComposes) {
  EXPECT_EQ(Nfc("e\xCC\x81"), "\xC3\xA9");          // e + acute -> é
  EXPECT_EQ(Nfc("\xC3\xA9"), "\xC3\xA9");           // already NFC
  EXPECT_EQ(Nfc("\xE2\x84\xAB"), "\xC3\x85");       // Å (U+212B angstrom sign) -> U+00C5
  EXPECT_EQ(Nfc("a\xCC\x82\xCC\xA3"), "\xE1\xBA\xAD");  // a + circumflex + dot below -> ậ (reordered)
  EXPECT_EQ(Nfc("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"), "\xED\x95\x9C");  // jamo ᄒ ᅡ ᆫ -> 한
  EXPECT_EQ(Nfc("\xE0\xA5\x98"), "\xE0\xA4\x95\xE0\xA4\xBC");  // U+0958 is excluded: stays decomposed
  EXPECT_EQ(Nfc("\xCC\x81" "a"), "\xCC\x81" "a");  // a leading mark has nothing to compose with
  EXPECT_EQ(Nfc("hello"), "hello");
  EXPECT_EQ(Nfc(""), "");
}

TEST(UnicodeTest, NfcKeepsInvalidBytes) {
  EXPECT_EQ(Nfc("\xFF" "e\xCC\x81\xFE"), "\xFF\xC3\xA9\xFE");
  EXPECT_EQ(Nfc("e\xFF\xCC\x81"), "e\xFF\xCC\x81");  // a stray byte blocks composition
}

TEST(UnicodeTest, LossyUtf8ReplacesMaximalSubparts) {
  const auto lossy = [](absl::string_view s) {
    std::string out;
    unicode::AppendUtf8Lossy(s, &out);
    return out;
  };
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(lossy("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(lossy("\xE2\x82"), fffd);                 // truncated: one subpart
  EXPECT_EQ(lossy("\xE2\x82x"), fffd + "x");
  EXPECT_EQ(lossy("\xFF\xFE"), fffd + fffd);
  EXPECT_EQ(lossy("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate: three
  EXPECT_EQ(lossy("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(ByteLevelTest, Gpt2Alphabet) {
  const ByteLevelAlphabet& a = ByteLevelAlphabet::Get();
  EXPECT_EQ(a.Encode(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(a.Encode('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(a.Encode('A'), "A");
  EXPECT_EQ(a.Encode(0xFF), "\xC3\xBF");  // ÿ
  EXPECT_EQ(a.Encode(0xAD), "\xC5\x83");  // Ń
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string mapped, back;
  a.AppendEncoded(all, &mapped);
  ASSERT_TRUE(a.AppendDecoded(mapped, &back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(a.AppendDecoded("a b", &back));  // ' ' is not in the alphabet
}

}  // namespace
}  // namespace tunefleet
