// The GGUF parser on files built here: every value type read back, and every
// malformed file (truncated at any byte, absurd counts, a tensor past the
// end, an unsupported type) refused with an error naming the problem.

#include <gtest/gtest.h>

#include <string>

#include "trainer/gguf/gguf_file.h"
#include "trainer/gguf/gguf_test_writer.h"

namespace tunefleet {
namespace {

using testing::GgufWriter;

std::string F32s(std::initializer_list<float> values) {
  std::string out;
  for (const float v : values) testing::PutF32(&out, v);
  return out;
}

GgufWriter SmallFile() {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddU32("llama.block_count", 2);
  w.AddF32("llama.rope.freq_base", 100000.0f);
  w.AddBool("tokenizer.ggml.add_bos_token", false);
  w.AddStrings("tokenizer.ggml.tokens", {"a", "b", "<|im_end|>"});
  w.AddI32s("tokenizer.ggml.token_type", {1, 1, 3});
  w.AddTensor("output_norm.weight", {4}, GgmlType::kF32, F32s({1, 2, 3, 4}));
  w.AddTensor("token_embd.weight", {2, 3}, GgmlType::kF32, F32s({1, 2, 3, 4, 5, 6}));
  return w;
}

TEST(GgufFile, ReadsMetadataAndTensors) {
  auto file = GgufFile::FromBytes(SmallFile().Bytes(), "small.gguf");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->version(), 3u);
  EXPECT_EQ(*(*file)->String("general.architecture"), "llama");
  EXPECT_EQ(*(*file)->Unsigned("llama.block_count"), 2u);
  EXPECT_DOUBLE_EQ(*(*file)->Float("llama.rope.freq_base"), 100000.0);
  EXPECT_FALSE(*(*file)->Bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ((*(*file)->Strings("tokenizer.ggml.tokens")).size(), 3u);
  EXPECT_EQ(*(*file)->Ints("tokenizer.ggml.token_type"), (std::vector<int64_t>{1, 1, 3}));
  const GgufTensorInfo* embed = (*file)->FindTensor("token_embd.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(embed->elements, 6);
  const auto data = (*file)->TensorData(*embed);
  ASSERT_EQ(data.size(), 24u);
  float last;
  std::memcpy(&last, data.data() + 20, 4);
  EXPECT_EQ(last, 6.0f);
}

TEST(GgufFile, TypedLookupsNameTheKey) {
  auto file = GgufFile::FromBytes(SmallFile().Bytes(), "small.gguf");
  ASSERT_TRUE(file.ok());
  EXPECT_NE((*file)->String("llama.block_count").status().message().find("'llama.block_count' is not a string"),
            std::string::npos);
  EXPECT_NE((*file)->Unsigned("nope").status().message().find("'nope' is missing"), std::string::npos);
}

TEST(GgufFile, EveryTruncationIsAnErrorNeverACrash) {
  const std::string bytes = SmallFile().Bytes();
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto file = GgufFile::FromBytes(bytes.substr(0, n), "cut.gguf");
    // Cutting only trailing alignment padding of the last tensor is harmless
    // only if the tensor's bytes are all there.
    if (file.ok()) {
      EXPECT_GE(n, bytes.size() - 32 + 16) << "a file cut at " << n << " parsed";
      continue;
    }
    EXPECT_NE(file.status().message().find("cut.gguf"), std::string::npos) << file.status();
  }
}

TEST(GgufFile, RefusesWhatIsNotGguf) {
  auto empty = GgufFile::FromBytes("", "empty.gguf");
  EXPECT_NE(empty.status().message().find("truncated while reading the magic"), std::string::npos) << empty.status();
  auto text = GgufFile::FromBytes("{\"model_type\": \"llama\"}", "config.json");
  EXPECT_NE(text.status().message().find("not a GGUF file"), std::string::npos) << text.status();
  std::string v9 = SmallFile().Bytes(9);
  auto version = GgufFile::FromBytes(v9, "v9.gguf");
  EXPECT_NE(version.status().message().find("version 9 is not supported"), std::string::npos) << version.status();
}

TEST(GgufFile, RefusesAbsurdCountsBeforeAllocating) {
  std::string bytes = SmallFile().Bytes();
  // The metadata count (bytes 16..23) set to 2^62.
  const uint64_t huge = uint64_t{1} << 62;
  std::memcpy(bytes.data() + 16, &huge, 8);
  auto file = GgufFile::FromBytes(bytes, "huge.gguf");
  EXPECT_NE(file.status().message().find("metadata count"), std::string::npos) << file.status();
  // A string whose length is 2^40.
  GgufWriter w;
  w.AddString("general.name", "x");
  std::string named = w.Bytes();
  const uint64_t long_len = uint64_t{1} << 40;
  std::memcpy(named.data() + 24 + 8 + 12 + 4, &long_len, 8);
  auto s = GgufFile::FromBytes(named, "long.gguf");
  EXPECT_FALSE(s.ok());
}

TEST(GgufFile, RefusesATensorPastTheEnd) {
  GgufWriter w;
  w.AddTensor("blk.0.attn_q.weight", {32, 4}, GgmlType::kF32, std::string(64, '\0'));  // 512 bytes needed
  auto file = GgufFile::FromBytes(w.Bytes(), "short.gguf");
  EXPECT_NE(file.status().message().find("'blk.0.attn_q.weight'"), std::string::npos) << file.status();
  EXPECT_NE(file.status().message().find("truncated"), std::string::npos) << file.status();
}

TEST(GgufFile, NamesAnUnsupportedTensorType) {
  GgufWriter w;
  w.AddTensor("blk.0.ffn_down.weight", {256}, static_cast<GgmlType>(14), std::string(210, '\0'));  // Q6_K
  auto file = GgufFile::FromBytes(w.Bytes(), "k.gguf");
  EXPECT_NE(file.status().message().find("Q6_K, which is not supported"), std::string::npos) << file.status();
}

TEST(GgufFile, RefusesRowsThatAreNotWholeBlocks) {
  GgufWriter w;
  w.AddTensor("t", {16, 2}, GgmlType::kQ8_0, std::string(34, '\0'));
  auto file = GgufFile::FromBytes(w.Bytes(), "rows.gguf");
  EXPECT_NE(file.status().message().find("not whole Q8_0 blocks"), std::string::npos) << file.status();
}

TEST(GgufFile, RefusesADuplicateKey) {
  GgufWriter w;
  w.AddU32("llama.block_count", 1);
  w.AddU32("llama.block_count", 2);
  auto file = GgufFile::FromBytes(w.Bytes(), "dup.gguf");
  EXPECT_NE(file.status().message().find("appears twice"), std::string::npos) << file.status();
}

}  // namespace
}  // namespace tunefleet
