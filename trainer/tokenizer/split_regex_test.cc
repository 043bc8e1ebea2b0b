// The hand-written matchers, on cases where the three patterns differ.

#include "trainer/tokenizer/split_regex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tunefleet {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Pieces(SplitRegex re, absl::string_view text) {
  std::vector<std::string> out;
  for (const auto& [begin, end] : FindRegexMatches(re, text)) out.emplace_back(text.substr(begin, end - begin));
  return out;
}

TEST(SplitRegexTest, RecognizesKnownPatterns) {
  for (SplitRegex re : {SplitRegex::kGpt2, SplitRegex::kLlama3, SplitRegex::kQwen2}) {
    EXPECT_EQ(RecognizeSplitRegex(SplitRegexPattern(re)), re);
  }
  EXPECT_EQ(RecognizeSplitRegex(R"(\w+|\s+)"), std::nullopt);
}

TEST(SplitRegexTest, Contractions) {
  EXPECT_THAT(Pieces(SplitRegex::kGpt2, "Hello world's"), ElementsAre("Hello", " world", "'s"));
  EXPECT_THAT(Pieces(SplitRegex::kLlama3, "DON'T we'LL"), ElementsAre("DON", "'T", " we", "'LL"));
  EXPECT_THAT(Pieces(SplitRegex::kGpt2, "DON'T"), ElementsAre("DON", "'", "T"));  // case-sensitive
  EXPECT_THAT(Pieces(SplitRegex::kQwen2, "'sam"), ElementsAre("'s", "am"));
}

TEST(SplitRegexTest, Numbers) {
  EXPECT_THAT(Pieces(SplitRegex::kLlama3, "12345"), ElementsAre("123", "45"));
  EXPECT_THAT(Pieces(SplitRegex::kQwen2, "123"), ElementsAre("1", "2", "3"));
  EXPECT_THAT(Pieces(SplitRegex::kGpt2, "a 12345"), ElementsAre("a", " 12345"));
}

TEST(SplitRegexTest, WhitespaceLooksAhead) {
  // \s+(?!\S) leaves the last space to the word that follows.
  EXPECT_THAT(Pieces(SplitRegex::kLlama3, "  12 "), ElementsAre(" ", " ", "12", " "));
  EXPECT_THAT(Pieces(SplitRegex::kGpt2, "  12 "), ElementsAre(" ", " 12", " "));
  EXPECT_THAT(Pieces(SplitRegex::kLlama3, "a   b"), ElementsAre("a", "  ", " b"));
}

TEST(SplitRegexTest, Newlines) {
  EXPECT_THAT(Pieces(SplitRegex::kLlama3, "a\n\nb"), ElementsAre("a", "\n\n", "b"));
  EXPECT_THAT(Pieces(SplitRegex::kGpt2, "a\n\nb"), ElementsAre("a", "\n", "\n", "b"));
  // \s*[\r\n]+ ends at the run's last newline.
  EXPECT_THAT(Pieces(SplitRegex::kLlama3, "x  \n  y"), ElementsAre("x", "  \n", " ", " y"));
  EXPECT_THAT(Pieces(SplitRegex::kQwen2, "Hi!!\r\n\r\nThere"), ElementsAre("Hi", "!!\r\n\r\n", "There"));
  EXPECT_THAT(Pieces(SplitRegex::kQwen2, "\nhello"), ElementsAre("\n", "hello"));  // no CR/LF before letters
}

TEST(SplitRegexTest, PunctuationAndUnicode) {
  EXPECT_THAT(Pieces(SplitRegex::kQwen2, "(hello) x"), ElementsAre("(hello", ")", " x"));
  EXPECT_THAT(Pieces(SplitRegex::kGpt2, "(hello) x"), ElementsAre("(", "hello", ")", " x"));
  EXPECT_THAT(Pieces(SplitRegex::kQwen2, "ñandú 中文"), ElementsAre("ñandú", " 中文"));
  EXPECT_THAT(Pieces(SplitRegex::kQwen2, "a \xF0\x9F\x98\x80!"), ElementsAre("a", " \xF0\x9F\x98\x80!"));
  EXPECT_THAT(Pieces(SplitRegex::kQwen2, "\xFF" "ab\xFE"), ElementsAre("\xFF" "ab", "\xFE"));  // stray bytes: punctuation
}

TEST(SplitRegexTest, EmptyText) { EXPECT_TRUE(Pieces(SplitRegex::kQwen2, "").empty()); }

}  // namespace
}  // namespace tunefleet
