// TrainByteLevelBpe: its output loads, round-trips and is deterministic.

#include "trainer/tokenizer/bpe_trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kSpecials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

std::vector<std::string> Corpus() {
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    texts.push_back("<|im_start|>user\nthe quick brown fox jumps over the lazy dog " + std::to_string(i) +
                    "<|im_end|>\n<|im_start|>assistant\nThe fox's jump: café, naïve, 日本語 😀!<|im_end|><|endoftext|>");
  }
  return texts;
}

TEST(BpeTrainerTest, OutputLoadsAndRoundTrips) {
  absl::StatusOr<std::string> json = TrainByteLevelBpe(Corpus(), 300, kSpecials);
  ASSERT_TRUE(json.ok()) << json.status();
  auto tok = Tokenizer::FromJson(*json, "trained");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->VocabSize(), 300);
  EXPECT_EQ((*tok)->TokenToId("<|endoftext|>"), 297);
  EXPECT_EQ((*tok)->TokenToId("<|im_end|>"), 299);
  // The most frequent word became a single token.
  const std::optional<int32_t> fox = (*tok)->TokenToId("\xC4\xA0" "fox");  // "Ġfox", 400 times
  ASSERT_TRUE(fox.has_value());
  EXPECT_THAT((*tok)->Encode(" fox"), ElementsAre(*fox));
  for (const std::string& text : {std::string("the lazy dog jumps"), Corpus()[7], std::string("unseen ✓ \xF0\x9F\xA6\x80\r\n\t")}) {
    EXPECT_EQ((*tok)->Decode((*tok)->Encode(text)), text);
  }
  EXPECT_THAT((*tok)->Encode("<|im_start|>"), ElementsAre(298));
}

TEST(BpeTrainerTest, IsDeterministic) {
  EXPECT_EQ(*TrainByteLevelBpe(Corpus(), 300, kSpecials), *TrainByteLevelBpe(Corpus(), 300, kSpecials));
}

TEST(BpeTrainerTest, BreaksTiesByTokenStrings) {
  // "ab" and "cd" are equally frequent: "a"+"b" sorts first, so it is merge 0.
  const nlohmann::json j = nlohmann::json::parse(*TrainByteLevelBpe({"ab cd ab cd"}, 258, {}));
  ASSERT_EQ(j["model"]["merges"].size(), 2u);
  EXPECT_EQ(j["model"]["merges"][0], nlohmann::json({"a", "b"}));
  EXPECT_EQ(j["model"]["merges"][1], nlohmann::json({"c", "d"}));
}

TEST(BpeTrainerTest, StopsWhenNoPairIsFrequentEnough) {
  const nlohmann::json j = nlohmann::json::parse(*TrainByteLevelBpe({"abc"}, 1000, {"<|endoftext|>"}));
  EXPECT_EQ(j["model"]["merges"].size(), 0u);  // every pair seen once
  EXPECT_EQ(j["added_tokens"][0]["id"], 256);
}

TEST(BpeTrainerTest, RejectsTooSmallVocab) {
  auto json = TrainByteLevelBpe({"abc"}, 257, kSpecials);
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(std::string(json.status().message()), HasSubstr("below 256"));
}

}  // namespace
}  // namespace tunefleet
