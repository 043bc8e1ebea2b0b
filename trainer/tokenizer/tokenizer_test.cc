// Tokenizer on a tiny hand-written tokenizer.json (testdata/): what each part
// of the format does, and how bad files are refused.

#include "trainer/tokenizer/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "nlohmann/json.hpp"

namespace tunefleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Contains;

const char kTinyPath[] = TUNEFLEET_SOURCE_DIR "/trainer/tokenizer/testdata/tiny_tokenizer.json";

nlohmann::json TinyJson() {
  std::ifstream in(kTinyPath);
  std::stringstream s;
  s << in.rdbuf();
  return nlohmann::json::parse(s.str());
}

std::unique_ptr<Tokenizer> Load(const nlohmann::json& j) {
  auto tok = Tokenizer::FromJson(j.dump(), "test.json");
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? *std::move(tok) : nullptr;
}

std::string LoadError(const std::string& text) {
  auto tok = Tokenizer::FromJson(text, "bad/tokenizer.json");
  EXPECT_FALSE(tok.ok());
  if (tok.ok()) return "";
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr("bad/tokenizer.json"));
  return std::string(tok.status().message());
}

class TinyTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = Tokenizer::FromFile(kTinyPath);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tok_ = *std::move(loaded);
  }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(TinyTokenizerTest, AppliesMergesLowestRankFirst) {
  // a+b (rank 0) beats b+c (rank 1); then ab+c (rank 2) gives abc.
  EXPECT_THAT(tok_->Encode("abc"), ElementsAre(30));
  EXPECT_THAT(tok_->Encode("hello"), ElementsAre(35));
  // " abc": Ġ+ab (rank 3) loses to ab+c (rank 2), leaving Ġ alone.
  EXPECT_THAT(tok_->Encode("abc abc"), ElementsAre(30, 12, 30));
  EXPECT_THAT(tok_->Encode(" ab"), ElementsAre(31));
  EXPECT_THAT(tok_->Encode(" hello"), ElementsAre(39));
}

TEST_F(TinyTokenizerTest, RankOrderDecides) {
  nlohmann::json j = TinyJson();
  // Put b+c first: "abc" now ends as a + bc, which has no merge.
  std::swap(j["model"]["merges"][0], j["model"]["merges"][1]);
  EXPECT_THAT(Load(j)->Encode("abc"), ElementsAre(0, 29));
}

TEST_F(TinyTokenizerTest, SplitsOnThePreTokenizerRegexFirst) {
  // "she's" -> "she" + "'s" (contraction), each merged on its own.
  EXPECT_THAT(tok_->Encode("she's"), ElementsAre(8, 32, 36));
  // Digits one per piece (Qwen2's \p{N}); "12" is never one token here.
  EXPECT_THAT(tok_->Encode("121"), ElementsAre(10, 11, 10));
}

TEST_F(TinyTokenizerTest, SplitsOnAddedTokensLongestFirst) {
  EXPECT_THAT(tok_->Encode("<|im_start|>hello<|im_end|>"), ElementsAre(41, 35, 42));
  EXPECT_THAT(tok_->Encode("abc<|endoftext|>abc"), ElementsAre(30, 40, 30));
  // "<|im" is an added token too, but "<|im_end|>" is the longer match.
  EXPECT_THAT(tok_->Encode("<|im_end|>"), ElementsAre(42));
  EXPECT_THAT(tok_->Encode("<|imx"), ElementsAre(43, 26));
}

TEST_F(TinyTokenizerTest, ParseSpecialFalseEncodesSpecialTokensAsText) {
  const std::string text = "<|im_start|>hello<|im_end|>";
  const std::vector<int32_t> ids = tok_->Encode(text, /*parse_special=*/false);
  EXPECT_THAT(ids, Not(Contains(41)));
  EXPECT_THAT(ids, Not(Contains(42)));
  EXPECT_THAT(ids, Not(Contains(43)));  // the special token's match hides "<|im"
  EXPECT_EQ(tok_->Decode(ids), text);
  EXPECT_THAT(tok_->Encode("<|endoftext|>", false), ElementsAre(17, 18, 4, 25, 3, 7, 27, 23, 4, 26, 23, 18, 19));
  // As in HF, only tokens marked special are affected.
  EXPECT_THAT(tok_->Encode("<|imx", false), ElementsAre(43, 26));
}

TEST_F(TinyTokenizerTest, AddedTokenOptions) {
  nlohmann::json j = TinyJson();
  j["added_tokens"][2]["lstrip"] = true;  // <|im_end|> takes the spaces around it
  j["added_tokens"][2]["rstrip"] = true;
  j["added_tokens"][3]["single_word"] = true;  // "<|im" only between non-word characters
  // Normalised added tokens are matched after NFC: "e" + U+0301 finds "é".
  j["added_tokens"].push_back({{"id", 44}, {"content", "\xC3\xA9"}, {"special", false}, {"normalized", true}});
  const auto tok = Load(j);
  EXPECT_THAT(tok->Encode("ab  <|im_end|>\n ab"), ElementsAre(28, 42, 28));
  EXPECT_THAT(tok->Encode("<|im <|imx"), ElementsAre(43, 12, 17, 18, 20, 21, 26));
  EXPECT_THAT(tok->Encode("ae\xCC\x81" "b"), ElementsAre(0, 44, 1));
}

TEST_F(TinyTokenizerTest, EncodesConcurrently) {
  const std::vector<std::string> texts = {"hello abc", "<|im_start|>she's<|im_end|>", "cab 121 \xFF", " hello\n\n"};
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& t : texts) expected.push_back(tok_->Encode(t));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 500; ++round) {
        const size_t i = static_cast<size_t>(round + k) % texts.size();
        mismatches[k] += tok_->Encode(texts[i]) != expected[i];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

TEST_F(TinyTokenizerTest, IgnoreMergesEmitsAWholeVocabularyPiece) {
  EXPECT_THAT(tok_->Encode("cab"), ElementsAre(2, 28));  // no merge makes "cab"
  nlohmann::json j = TinyJson();
  j["model"]["ignore_merges"] = true;
  EXPECT_THAT(Load(j)->Encode("cab"), ElementsAre(38));
}

TEST_F(TinyTokenizerTest, EncodesAnyByteIncludingInvalidUtf8) {
  EXPECT_THAT(tok_->Encode("\xFF"), ElementsAre(14));  // byte 0xFF is "ÿ" in the alphabet
  EXPECT_THAT(tok_->Encode("a\xFF" "b"), ElementsAre(0, 14, 1));
  EXPECT_THAT(tok_->Encode("\xC3"), ElementsAre(15));  // a truncated sequence
  EXPECT_THAT(tok_->Encode("\xC3\xA9"), ElementsAre(37));  // "é" = bytes Ã ©, merged
  // Decode is UTF-8-safe: stray bytes come back as U+FFFD.
  EXPECT_EQ(tok_->Decode({0, 14, 1}), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(tok_->Decode({15}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok_->Decode({37}), "\xC3\xA9");
}

TEST_F(TinyTokenizerTest, NormalizesToNfcBeforeEncoding) {
  EXPECT_THAT(tok_->Encode("e\xCC\x81"), ElementsAre(37));  // e + U+0301 -> é
  EXPECT_EQ(tok_->Decode(tok_->Encode("e\xCC\x81")), "\xC3\xA9");
}

TEST_F(TinyTokenizerTest, DropsCharactersOutsideTheVocabularyWithoutUnk) {
  EXPECT_THAT(tok_->Encode("z"), IsEmpty());  // as HF's BPE with no unk_token
  EXPECT_THAT(tok_->Encode(""), IsEmpty());
}

TEST_F(TinyTokenizerTest, DecodesSpecialTokensUnlessSkipped) {
  EXPECT_EQ(tok_->Decode({41, 35, 42}), "<|im_start|>hello<|im_end|>");
  EXPECT_EQ(tok_->Decode({41, 35, 42}, /*skip_special=*/true), "hello");
  EXPECT_EQ(tok_->Decode({43, 26}, true), "<|imx");  // not special: kept
  EXPECT_EQ(tok_->Decode({12, 39, 13}), "  hello\n");
  EXPECT_EQ(tok_->Decode({9999, 35}), "hello");  // unknown ids are dropped
}

TEST_F(TinyTokenizerTest, RoundTrips) {
  for (const std::string text : {"hello abc", "<|im_start|>she's\n\nhello<|im_end|>", " ab  \n ", "121 cab"}) {
    EXPECT_EQ(tok_->Decode(tok_->Encode(text)), text);
  }
}

TEST_F(TinyTokenizerTest, LooksUpTokensAndIds) {
  EXPECT_EQ(tok_->TokenToId("hello"), 35);
  EXPECT_EQ(tok_->TokenToId("<|im_end|>"), 42);
  EXPECT_EQ(tok_->TokenToId("nope"), std::nullopt);
  EXPECT_EQ(tok_->IdToToken(36), "'s");
  EXPECT_EQ(tok_->IdToToken(40), "<|endoftext|>");
  EXPECT_EQ(tok_->IdToToken(1000), std::nullopt);
  EXPECT_EQ(tok_->VocabSize(), 44);
}

TEST(TokenizerModelTest, ByteFallbackAndUnk) {
  const nlohmann::json j = {
      {"model",
       {{"type", "BPE"},
        {"vocab", {{"<0x41>", 0}, {"<0xC3>", 1}, {"b", 2}, {"<unk>", 3}}},
        {"merges", nlohmann::json::array()},
        {"unk_token", "<unk>"},
        {"byte_fallback", true},
        {"fuse_unk", true}}}};
  const auto tok = Load(j);
  EXPECT_THAT(tok->Encode("bA"), ElementsAre(2, 0));  // "A" -> <0x41>
  EXPECT_THAT(tok->Encode("b\xC3\xA9\xC3\xA9" "b"), ElementsAre(2, 3, 2));  // <0xA9> missing: unk, fused
  EXPECT_EQ(tok->Decode({2, 2}), "b b");  // no decoder: HF joins with spaces
}

TEST(TokenizerModelTest, ByteLevelWithPrefixSpaceAndGpt2Regex) {
  nlohmann::json j = TinyJson();
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  j["normalizer"] = nullptr;
  const auto tok = Load(j);
  EXPECT_THAT(tok->Encode("hello"), ElementsAre(39));  // " hello"
  EXPECT_THAT(tok->Encode("hello<|im_end|>hello"), ElementsAre(39, 42, 39));  // each piece prefixed
}

TEST(TokenizerErrorTest, NotJson) { EXPECT_THAT(LoadError("{ not json"), HasSubstr("not valid JSON")); }

TEST(TokenizerErrorTest, MissingModel) { EXPECT_THAT(LoadError("{}"), HasSubstr("no \"model\"")); }

TEST(TokenizerErrorTest, UnsupportedModelTypesAreNamed) {
  EXPECT_THAT(LoadError(R"({"model": {"type": "WordPiece", "vocab": {}}})"), HasSubstr("'WordPiece'"));
  EXPECT_THAT(LoadError(R"({"model": {"type": "Unigram", "vocab": []}})"), HasSubstr("'Unigram'"));
}

TEST(TokenizerErrorTest, MergeReferencingUnknownToken) {
  nlohmann::json j = TinyJson();
  j["model"]["merges"].push_back("a zz");
  EXPECT_THAT(LoadError(j.dump()), HasSubstr("unknown token 'zz'"));
  j = TinyJson();
  j["model"]["merges"].push_back("c d");
  EXPECT_THAT(LoadError(j.dump()), HasSubstr("'cd' is not in the vocab"));
  j = TinyJson();
  j["model"]["merges"].push_back("a b c");
  EXPECT_THAT(LoadError(j.dump()), HasSubstr("merge 11"));
}

TEST(TokenizerErrorTest, UnsupportedComponentsAreNamed) {
  nlohmann::json j = TinyJson();
  j["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_THAT(LoadError(j.dump()), HasSubstr("normalizer type 'Lowercase'"));
  j = TinyJson();
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  EXPECT_THAT(LoadError(j.dump()), HasSubstr("pre_tokenizer type 'Metaspace'"));
  j = TinyJson();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+|\\d";
  EXPECT_THAT(LoadError(j.dump()), HasSubstr("'\\w+|\\d'"));
  j = TinyJson();
  j["decoder"] = {{"type", "WordPiece"}};
  EXPECT_THAT(LoadError(j.dump()), HasSubstr("decoder type 'WordPiece'"));
  j = TinyJson();
  j["model"]["vocab"] = "oops";
  EXPECT_THAT(LoadError(j.dump()), HasSubstr("vocab"));
}

TEST(TokenizerErrorTest, FileErrorsNameTheFile) {
  auto missing = Tokenizer::FromFile("/nonexistent/tokenizer.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/tokenizer.json"));

  const std::string path = ::testing::TempDir() + "/broken_tokenizer.json";
  std::ofstream(path) << "[1, 2";
  auto broken = Tokenizer::FromFile(path);
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr(path));
}

// A vocabulary id that is not an int32 (1e300, 2^40, 1.5) is refused by
// name; get<int32_t>() cast it, undefined behaviour for 1e300.
TEST(TokenizerJsonTest, VocabAndAddedTokenIdsMustBeInt32) {
  for (const nlohmann::json& bad : {nlohmann::json(1e300), nlohmann::json(int64_t{1} << 40), nlohmann::json(1.5)}) {
    nlohmann::json j = TinyJson();
    j["model"]["vocab"][j["model"]["vocab"].begin().key()] = bad;
    EXPECT_THAT(LoadError(j.dump()), HasSubstr("model.vocab")) << bad.dump();
    nlohmann::json added = TinyJson();
    added["added_tokens"] = nlohmann::json::array({{{"id", bad}, {"content", "<x>"}}});
    EXPECT_THAT(LoadError(added.dump()), HasSubstr("\"id\"")) << bad.dump();
  }
}

}  // namespace
}  // namespace tunefleet
