#include "trainer/data/jsonl_reader.h"

#include <cstdio>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TestData(const std::string& name) {
  return std::string(TUNEFLEET_SOURCE_DIR) + "/trainer/data/testdata/" + name;
}

TEST(JsonlReaderTest, ReadsTextAndIgnoresOtherKeys) {
  auto records = ReadJsonlFile(TestData("text.jsonl"), v1::DATASET_FORMAT_TEXT);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].text, "The quick brown fox.");
  EXPECT_EQ((*records)[1].text, "Jumps over the lazy dog.");
  EXPECT_EQ((*records)[1].format, v1::DATASET_FORMAT_TEXT);
}

TEST(JsonlReaderTest, ATaskNameIsKeptAndABadOneIsNamed) {
  auto records = ParseJsonl("{\"prompt\": \"p\", \"completion\": \"c\", \"task\": \"smart-home.v2\"}\n"
                            "{\"prompt\": \"p\", \"completion\": \"c\"}\n",
                            "mem", v1::DATASET_FORMAT_UNSPECIFIED);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ((*records)[0].task, "smart-home.v2");
  EXPECT_EQ((*records)[1].task, "");
  for (const char* bad : {"{\"text\": \"t\", \"task\": 3}", "{\"text\": \"t\", \"task\": \"\"}",
                          "{\"text\": \"t\", \"task\": \"a b\"}",
                          "{\"text\": \"t\", \"task\": \"\\u001b[31m\"}"}) {
    auto parsed = ParseJsonl(bad, "mem", v1::DATASET_FORMAT_UNSPECIFIED);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("mem:1"), std::string::npos) << parsed.status();
    EXPECT_NE(parsed.status().message().find("\"task\""), std::string::npos) << parsed.status();
  }
}

TEST(JsonlReaderTest, DetectsPromptCompletion) {
  auto records = ReadJsonlFile(TestData("prompt_completion.jsonl"), v1::DATASET_FORMAT_UNSPECIFIED);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].format, v1::DATASET_FORMAT_PROMPT_COMPLETION);
  EXPECT_EQ((*records)[0].prompt, "Q: capital of France?\nA:");
  EXPECT_EQ((*records)[0].completion, " Paris");
}

TEST(JsonlReaderTest, DetectsChatAndSkipsBlankLines) {
  auto records = ReadJsonlFile(TestData("chat.jsonl"), v1::DATASET_FORMAT_UNSPECIFIED);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  const DatasetRecord& first = (*records)[0];
  EXPECT_EQ(first.format, v1::DATASET_FORMAT_CHAT);
  ASSERT_EQ(first.messages.size(), 3u);
  EXPECT_EQ(first.messages[0].role, ChatRole::kSystem);
  EXPECT_EQ(first.messages[1].role, ChatRole::kUser);
  EXPECT_EQ(first.messages[2].role, ChatRole::kAssistant);
  EXPECT_EQ(first.messages[2].content, "Hello!");
  // The blank line 2 is skipped but still counted.
  EXPECT_THAT((*records)[1].source, testing::EndsWith("chat.jsonl:3"));
}

TEST(JsonlReaderTest, HandlesCrlfWhitespaceAndUnicode) {
  auto records = ParseJsonl("  {\"text\": \"caf\\u00e9 \xe2\x9c\x93\"}\r\n\r\n\t\n{\"text\": \"\"}\r\n", "mem",
                            v1::DATASET_FORMAT_UNSPECIFIED);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].text, "caf\xc3\xa9 \xe2\x9c\x93");
  EXPECT_EQ((*records)[1].text, "");
  EXPECT_EQ((*records)[1].source, "mem:4");
}

TEST(JsonlReaderTest, EmptyFileHasNoRecords) {
  auto records = ParseJsonl("\n\n", "mem", v1::DATASET_FORMAT_UNSPECIFIED);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

TEST(JsonlReaderTest, MissingFileIsNotFound) {
  auto records = ReadJsonlFile("/nonexistent/train.jsonl", v1::DATASET_FORMAT_TEXT);
  EXPECT_EQ(records.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(records.status().message()), HasSubstr("/nonexistent/train.jsonl"));
}

struct BadLine {
  const char* name;
  v1::DatasetFormat format;
  const char* first_line;  // a good line, so the bad one is line 2
  const char* bad_line;
  const char* what;        // expected in the message
};

class BadLineTest : public ::testing::TestWithParam<BadLine> {};

TEST_P(BadLineTest, IsInvalidArgumentNamingFileAndLine) {
  const BadLine& c = GetParam();
  const std::string contents = std::string(c.first_line) + "\n" + c.bad_line + "\n";
  auto records = ParseJsonl(contents, "data/train.jsonl", c.format);
  ASSERT_FALSE(records.ok()) << c.name;
  EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(records.status().message()), StartsWith("data/train.jsonl:2: "));
  EXPECT_THAT(std::string(records.status().message()), HasSubstr(c.what));
}

constexpr const char* kText = R"({"text": "ok"})";
constexpr const char* kChat = R"({"messages": [{"role": "user", "content": "hi"}]})";
constexpr const char* kPc = R"({"prompt": "p", "completion": "c"})";

INSTANTIATE_TEST_SUITE_P(
    Kinds, BadLineTest,
    ::testing::Values(
        BadLine{"not_json", v1::DATASET_FORMAT_TEXT, kText, R"({"text": "unterminated)", "not valid JSON"},
        BadLine{"trailing_garbage", v1::DATASET_FORMAT_TEXT, kText, R"({"text": "a"} x)", "not valid JSON"},
        BadLine{"not_object", v1::DATASET_FORMAT_TEXT, kText, R"(["text", "a"])", "expected a JSON object, got array"},
        BadLine{"missing_text", v1::DATASET_FORMAT_TEXT, kText, R"({"body": "a"})",
                R"(missing key "text" (text format; the line has keys "body"))"},
        BadLine{"text_not_string", v1::DATASET_FORMAT_TEXT, kText, R"({"text": 42})",
                "text must be a string, got number"},
        BadLine{"detected_format_mismatch", v1::DATASET_FORMAT_UNSPECIFIED, kText, kChat, R"(missing key "text")"},
        BadLine{"missing_completion", v1::DATASET_FORMAT_PROMPT_COMPLETION, kPc, R"({"prompt": "p"})",
                R"(missing key "completion")"},
        BadLine{"completion_null", v1::DATASET_FORMAT_PROMPT_COMPLETION, kPc, R"({"prompt": "p", "completion": null})",
                "completion must be a string, got null"},
        BadLine{"messages_not_array", v1::DATASET_FORMAT_CHAT, kChat, R"({"messages": "hi"})",
                "messages must be an array, got string"},
        BadLine{"empty_messages", v1::DATASET_FORMAT_CHAT, kChat, R"({"messages": []})", "messages is empty"},
        BadLine{"message_not_object", v1::DATASET_FORMAT_CHAT, kChat, R"({"messages": ["hi"]})",
                "messages[0] must be an object, got string"},
        BadLine{"unknown_role", v1::DATASET_FORMAT_CHAT, kChat,
                R"({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]})",
                R"(messages[1].role: unknown role "bot")"},
        BadLine{"missing_role", v1::DATASET_FORMAT_CHAT, kChat, R"({"messages": [{"content": "a"}]})",
                R"(missing key "role")"},
        BadLine{"content_not_string", v1::DATASET_FORMAT_CHAT, kChat,
                R"({"messages": [{"role": "user", "content": ["a"]}]})", "messages[0].content must be a string"},
        BadLine{"chat_line_in_pc_file", v1::DATASET_FORMAT_PROMPT_COMPLETION, kPc, kChat,
                R"(missing key "prompt")"}),
    [](const ::testing::TestParamInfo<BadLine>& param_info) { return std::string(param_info.param.name); });

TEST(JsonlReaderTest, UndetectableFirstLineIsAnError) {
  auto records = ParseJsonl("\n{\"input\": \"a\", \"output\": \"b\"}\n", "x.jsonl", v1::DATASET_FORMAT_UNSPECIFIED);
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(std::string(records.status().message()), StartsWith("x.jsonl:2: cannot detect the dataset format"));
  EXPECT_THAT(std::string(records.status().message()), HasSubstr(R"("input", "output")"));
}

// A line past the limit is refused with file and line before it is parsed
// (or, from a file, read whole).
TEST(JsonlReaderTest, OverlongLineIsRefusedNamingFileAndLine) {
  const std::string ok_line = R"({"text": "short"})";
  const std::string long_line = R"({"text": ")" + std::string(100, 'x') + R"("})";
  auto parsed = ParseJsonl(ok_line + "\n" + long_line + "\n", "big.jsonl", v1::DATASET_FORMAT_TEXT,
                           /*max_line_bytes=*/64);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), StartsWith("big.jsonl:2: line is longer than the limit of 64 bytes"));

  const std::string path = ::testing::TempDir() + "/overlong.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    out << ok_line << "\n\n" << long_line;  // the last line has no newline
  }
  auto read = ReadJsonlFile(path, v1::DATASET_FORMAT_TEXT, /*max_line_bytes=*/64);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(std::string(read.status().message()), StartsWith(path + ":3: line is longer than the limit of 64 bytes"));
  // At the limit exactly, and with no final newline, the file reads.
  auto at_limit = ReadJsonlFile(path, v1::DATASET_FORMAT_TEXT, long_line.size());
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->size(), 2u);
  std::remove(path.c_str());
}

TEST(JsonlReaderTest, DefaultLineLimitIs32MiB) {
  const std::string huge = R"({"text": ")" + std::string(kMaxJsonlLineBytes, 'x') + R"("})";
  auto parsed = ParseJsonl(huge, "huge.jsonl", v1::DATASET_FORMAT_TEXT);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("huge.jsonl:1: line is longer than the limit of 33554432"));
}

}  // namespace
}  // namespace tunefleet
