#include "trainer/data/example_tokenizer.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trainer/data/chat_template.h"
#include "trainer/data/fake_tokenizer.h"

namespace tunefleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The decoded runs of consecutive loss tokens: exactly what is trained on.
std::vector<std::string> LossSpans(const TokenizedExample& ex, const Tokenizer& tok) {
  std::vector<std::string> spans;
  std::vector<int32_t> run;
  for (size_t i = 0; i <= ex.ids.size(); ++i) {
    if (i < ex.ids.size() && ex.loss[i]) {
      run.push_back(ex.ids[i]);
    } else if (!run.empty()) {
      spans.push_back(tok.Decode(run));
      run.clear();
    }
  }
  return spans;
}

DatasetRecord Chat(std::vector<ChatMessage> messages) {
  DatasetRecord r;
  r.format = v1::DATASET_FORMAT_CHAT;
  r.messages = std::move(messages);
  r.source = "test:1";
  return r;
}

const std::vector<ChatMessage> kConversation = {
    {ChatRole::kSystem, "Be brief."},
    {ChatRole::kUser, "Hi"},
    {ChatRole::kAssistant, "Hello!"},
    {ChatRole::kUser, "Bye"},
    {ChatRole::kAssistant, "See you."},
};

TEST(ChatTemplateTest, ChatMlMasksExactlyAssistantContentAndImEnd) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  ExampleTokenizerOptions options;
  options.chat_template = v1::CHAT_TEMPLATE_CHATML;
  auto et = ExampleTokenizer::Create(tok, v1::DATASET_FORMAT_CHAT, options);
  ASSERT_TRUE(et.ok()) << et.status();
  auto ex = et->Tokenize(Chat(kConversation));
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ(tok.Decode(ex->ids),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\nSee you.<|im_end|>\n");
  EXPECT_THAT(LossSpans(*ex, tok), ElementsAre("Hello!<|im_end|>", "See you.<|im_end|>"));
}

TEST(ChatTemplateTest, UnspecifiedMeansChatMl) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  auto t = ChatTemplate::Create(v1::CHAT_TEMPLATE_UNSPECIFIED, tok);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind(), v1::CHAT_TEMPLATE_CHATML);
}

TEST(ChatTemplateTest, Llama3MasksExactlyAssistantContentAndEotAndTrims) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  ExampleTokenizerOptions options;
  options.chat_template = v1::CHAT_TEMPLATE_LLAMA3;
  auto et = ExampleTokenizer::Create(tok, v1::DATASET_FORMAT_CHAT, options);
  ASSERT_TRUE(et.ok()) << et.status();
  std::vector<ChatMessage> conversation = kConversation;
  conversation[2].content = "  Hello!\n";  // trimmed, as Llama 3's own template does
  auto ex = et->Tokenize(Chat(conversation));
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ(tok.Decode(ex->ids),
            "<|begin_of_text|>"
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nSee you.<|eot_id|>");
  EXPECT_THAT(LossSpans(*ex, tok), ElementsAre("Hello!<|eot_id|>", "See you.<|eot_id|>"));
}

TEST(ChatTemplateTest, SpecialTokenTextInContentStaysText) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  auto et = ExampleTokenizer::Create(tok, v1::DATASET_FORMAT_CHAT, {});
  ASSERT_TRUE(et.ok());
  auto ex = et->Tokenize(Chat({{ChatRole::kUser, "<|im_end|>"}, {ChatRole::kAssistant, "ok"}}));
  ASSERT_TRUE(ex.ok());
  const int32_t im_end = *tok.TokenToId("<|im_end|>");
  // One <|im_end|> per turn, none from the user's text.
  EXPECT_EQ(std::count(ex->ids.begin(), ex->ids.end(), im_end), 2);
}

TEST(ChatTemplateTest, MissingSpecialTokenIsAClearError) {
  FakeTokenizer tok({"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>"});
  auto t = ChatTemplate::Create(v1::CHAT_TEMPLATE_LLAMA3, tok);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("Llama 3 chat template needs the token <|eot_id|>"));
  auto chatml = ChatTemplate::Create(v1::CHAT_TEMPLATE_CHATML, tok);
  EXPECT_THAT(std::string(chatml.status().message()), HasSubstr("<|im_start|>"));
}

TEST(ExampleTokenizerTest, PromptCompletionTrainsOnCompletionAndEos) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  auto et = ExampleTokenizer::Create(tok, v1::DATASET_FORMAT_PROMPT_COMPLETION, {});
  ASSERT_TRUE(et.ok()) << et.status();
  DatasetRecord r;
  r.format = v1::DATASET_FORMAT_PROMPT_COMPLETION;
  r.prompt = "Q: 1+1?\nA:";
  r.completion = " 2";
  auto ex = et->Tokenize(r);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(tok.Decode(ex->ids), "Q: 1+1?\nA: 2<|endoftext|>");
  EXPECT_THAT(LossSpans(*ex, tok), ElementsAre(" 2<|endoftext|>"));
}

TEST(ExampleTokenizerTest, TextTrainsOnAllTokensAndEos) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  auto et = ExampleTokenizer::Create(tok, v1::DATASET_FORMAT_TEXT, {});
  ASSERT_TRUE(et.ok());
  DatasetRecord r;
  r.format = v1::DATASET_FORMAT_TEXT;
  r.text = "abc <|endoftext|>";  // literal special text in data stays text
  auto ex = et->Tokenize(r);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->size(), 18);
  EXPECT_EQ(ex->ids.back(), *tok.TokenToId("<|endoftext|>"));
  EXPECT_THAT(LossSpans(*ex, tok), ElementsAre("abc <|endoftext|><|endoftext|>"));
}

TEST(ExampleTokenizerTest, EosIsTheFirstKnownSpellingOrExplicit) {
  FakeTokenizer llama({"</s>", "<|end_of_text|>", "<|begin_of_text|>"});
  auto et = ExampleTokenizer::Create(llama, v1::DATASET_FORMAT_TEXT, {});
  ASSERT_TRUE(et.ok());
  EXPECT_EQ(et->eos_id(), *llama.TokenToId("<|end_of_text|>"));

  ExampleTokenizerOptions explicit_eos;
  explicit_eos.eos_token = "</s>";
  explicit_eos.bos_token = "<|begin_of_text|>";
  et = ExampleTokenizer::Create(llama, v1::DATASET_FORMAT_TEXT, explicit_eos);
  ASSERT_TRUE(et.ok());
  EXPECT_EQ(et->eos_id(), *llama.TokenToId("</s>"));
  DatasetRecord r;
  r.format = v1::DATASET_FORMAT_TEXT;
  r.text = "x";
  auto ex = et->Tokenize(r);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(llama.Decode(ex->ids), "<|begin_of_text|>x</s>");
  EXPECT_THAT(LossSpans(*ex, llama), ElementsAre("x</s>"));  // never the BOS

  FakeTokenizer none({"<|im_start|>"});
  auto missing = ExampleTokenizer::Create(none, v1::DATASET_FORMAT_PROMPT_COMPLETION, {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("no end-of-sequence token"));
  explicit_eos.eos_token = "<eos>";
  missing = ExampleTokenizer::Create(llama, v1::DATASET_FORMAT_TEXT, explicit_eos);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("<eos>"));
}

TEST(ExampleTokenizerTest, ChatNeedsNoEos) {
  FakeTokenizer tok({"<|im_start|>", "<|im_end|>"});
  EXPECT_TRUE(ExampleTokenizer::Create(tok, v1::DATASET_FORMAT_CHAT, {}).ok());
}

TEST(ExampleTokenizerTest, RejectsARecordOfAnotherFormat) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  auto et = ExampleTokenizer::Create(tok, v1::DATASET_FORMAT_TEXT, {});
  ASSERT_TRUE(et.ok());
  auto ex = et->Tokenize(Chat(kConversation));
  EXPECT_EQ(ex.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ex.status().message()), HasSubstr("test:1"));
}

}  // namespace
}  // namespace tunefleet
