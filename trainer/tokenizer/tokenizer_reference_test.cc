// Our ids against Hugging Face's `tokenizers` (the Rust library, run through
// its Python binding by tests/reference/tokenizer/tokenize.py), on Qwen3's
// and Llama 3's real tokenizer.json (committed xz-compressed under
// tests/reference/tokenizer/) and on one our trainer makes: every text of
// tests/reference/tokenizer/texts.jsonl must give exactly the same ids, and
// decode back to its normalised self.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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
// Fixed, like everything a test's result depends on (tests/testing/pinned_environment.cc
// removes TUNEFLEET_* from a test's environment).
const std::string kTexts = kRefDir + "/texts.jsonl";
// The project virtualenv's Python (CMake's TUNEFLEET_PYTHON), which has
// requirements.txt's pinned `tokenizers`.
const std::string kPython = TUNEFLEET_PYTHON_EXE;
const std::string kInstallHint =
    "Run scripts/install_deps.sh: it makes .venv/ with requirements.txt's pinned `tokenizers` "
    "and installs xz-utils (the vocabularies are committed xz-compressed).";

std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (const char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

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

// A fresh directory per test: ctest runs the tests in parallel, and others
// may run the same binary at the same time.
class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = ::testing::TempDir() + "/tokenizer_reference_XXXXXX";
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `command` (stderr to a file in `dir`) and returns its stdout; on a
// failure to start or a nonzero exit, sets *error with the command's stderr.
std::string RunCommand(const std::string& command, const std::string& dir, std::string* error) {
  const std::string err_path = dir + "/stderr";
  const std::string full = command + " 2>" + ShellQuote(err_path);
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) {
    *error = "cannot run: " + command;
    return {};
  }
  std::string out;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
  const int rc = pclose(pipe);
  if (rc != 0) {
    const std::string status = WIFEXITED(rc) ? "exit status " + std::to_string(WEXITSTATUS(rc))
                                              : "wait status " + std::to_string(rc);
    *error = "`" + command + "` failed (" + status + "): " + ReadFile(err_path);
  }
  return out;
}

// Decompresses tests/reference/tokenizer/<model>/*.json.xz into `dir`/<model>/
// with the xz command (liblzma is not linked) and returns the tokenizer.json.
std::string DecompressVocabulary(const std::string& model, const std::string& dir, std::string* error) {
  std::filesystem::create_directories(dir + "/" + model);
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    const std::string xz = kRefDir + "/" + model + "/" + file + ".xz";
    const std::string json = RunCommand("xz -dc " + ShellQuote(xz), dir, error);
    if (!error->empty() || json.empty()) {
      *error = "cannot decompress " + xz + " (is xz installed?): " + *error + " " + kInstallHint;
      return {};
    }
    std::ofstream(dir + "/" + model + "/" + file, std::ios::binary) << json;
  }
  return dir + "/" + model + "/tokenizer.json";
}

// Runs tokenize.py with the virtualenv's Python; fails the test (not skips)
// when the Python or its `tokenizers` is missing.
std::vector<Reference> RunTokenizers(const std::string& tokenizer_json, const std::string& dir,
                                     std::string* error) {
  if (access(kPython.c_str(), X_OK) != 0) {
    *error = "no Python at " + kPython + " (CMake's TUNEFLEET_PYTHON). " + kInstallHint;
    return {};
  }
  const std::string command =
      ShellQuote(kPython) + " " + ShellQuote(kRefDir + "/tokenize.py") + " " + ShellQuote(tokenizer_json) + " " +
      ShellQuote(kTexts);
  const std::string out = RunCommand(command, dir, error);
  if (!error->empty()) {
    *error += " " + kInstallHint;
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

void CompareWithReference(const std::string& tokenizer_json, const std::string& dir) {
  std::string error;
  const std::vector<Reference> refs = RunTokenizers(tokenizer_json, dir, &error);
  ASSERT_TRUE(error.empty()) << error;
  const std::vector<Case> cases = ReadTexts();
  ASSERT_EQ(refs.size(), cases.size()) << "tokenize.py printed a different number of lines";
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

// One of the committed real vocabularies (tests/reference/tokenizer/<model>/).
void CompareVocabularyWithReference(const std::string& model) {
  const ScratchDir dir;
  ASSERT_FALSE(dir.path().empty()) << "cannot make a directory under " << ::testing::TempDir();
  std::string error;
  const std::string tokenizer_json = DecompressVocabulary(model, dir.path(), &error);
  ASSERT_TRUE(error.empty()) << error;
  CompareWithReference(tokenizer_json, dir.path());
}

TEST(TokenizerReferenceTest, Qwen3MatchesHuggingFaceTokenizers) { CompareVocabularyWithReference("qwen3"); }

TEST(TokenizerReferenceTest, Llama3MatchesHuggingFaceTokenizers) { CompareVocabularyWithReference("llama3"); }

TEST(TokenizerReferenceTest, TrainedTokenizerMatchesHuggingFaceTokenizers) {
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
  const ScratchDir dir;
  ASSERT_FALSE(dir.path().empty()) << "cannot make a directory under " << ::testing::TempDir();
  const std::string path = dir.path() + "/trained_tokenizer.json";
  std::ofstream(path) << *json;
  CompareWithReference(path, dir.path());
}

}  // namespace
}  // namespace tunefleet
