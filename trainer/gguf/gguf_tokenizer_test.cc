#include "trainer/gguf/gguf_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "trainer/gguf/gguf_file.h"
#include "trainer/gguf/gguf_test_writer.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing::GgufWriter;

GgufWriter TokenizerWith(const std::vector<std::string>& tokens, const std::string& chat_template) {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddString("tokenizer.ggml.model", "gpt2");
  w.AddString("tokenizer.ggml.pre", "default");
  w.AddStrings("tokenizer.ggml.tokens", tokens);
  w.AddStrings("tokenizer.ggml.merges", {"a b"});
  if (!chat_template.empty()) w.AddString("tokenizer.chat_template", chat_template);
  return w;
}

TEST(GgufTokenizer, BuildsTokenizerJsonFromMetadata) {
  auto file = GgufFile::FromBytes(TokenizerWith({"a", "b", "ab"}, "{{ x }}").Bytes(), "t.gguf");
  ASSERT_TRUE(file.ok()) << file.status();
  auto files = GgufTokenizer(**file);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(files->tokenizer_json, HasSubstr("\"ab\""));
}

// fuzz/corpus/gguf_metadata/crash-1e56e46b...: a token that is not UTF-8
// made nlohmann::json throw out of GgufTokenizer and abort the trainer.
TEST(GgufTokenizer, TokensOrTemplateNotUtf8AreAnErrorNotAnException) {
  for (const auto& w : {TokenizerWith({"a", "\xff\x60", "ab"}, ""), TokenizerWith({"a", "b"}, "\xc3")}) {
    auto file = GgufFile::FromBytes(w.Bytes(), "bad.gguf");
    ASSERT_TRUE(file.ok()) << file.status();
    auto files = GgufTokenizer(**file);
    ASSERT_FALSE(files.ok());
    EXPECT_EQ(files.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(files.status().message(), HasSubstr("bad.gguf"));
    EXPECT_THAT(files.status().message(), HasSubstr("UTF-8"));
  }
}

}  // namespace
}  // namespace tunefleet
