// Tokenizer throughput: encode with Qwen3's tokenizer.json (by default the
// one the reference test uses, tests/reference/tokenizer/qwen3/
// tokenizer.json.xz, decompressed with the xz command to a temporary file)
// and train byte-level BPE vocabularies. Prints one line per measurement.
//
//   build/bench/tokenizer_bench [--tokenizer tokenizer.json]
//                               [corpus dir, up to 8 MB read; default trainer/tokenizer]

#include <stdlib.h>
#include <unistd.h>

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

// The committed Qwen3 tokenizer.json.xz, decompressed into a temporary file
// (removed by the caller); empty on failure, with the reason on stderr.
std::string DecompressQwen3() {
  const std::string xz = TUNEFLEET_SOURCE_DIR "/tests/reference/tokenizer/qwen3/tokenizer.json.xz";
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/qwen3_tokenizer_XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    std::perror("mkstemp");
    return {};
  }
  close(fd);
  const std::string command = "xz -dc '" + xz + "' > '" + path + "'";
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "`%s` failed (run scripts/install_deps.sh for xz-utils)\n", command.c_str());
    std::remove(path.c_str());
    return {};
  }
  return path;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = TUNEFLEET_SOURCE_DIR "/trainer/tokenizer";
  std::string tokenizer_json;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--tokenizer" && i + 1 < argc) {
      tokenizer_json = argv[++i];
    } else if (arg.rfind("--tokenizer=", 0) == 0) {
      tokenizer_json = arg.substr(std::string("--tokenizer=").size());
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [--tokenizer tokenizer.json] [corpus dir]\n", argv[0]);
      return 2;
    } else {
      root = arg;
    }
  }
  const std::vector<std::string> corpus = Corpus(root);
  size_t bytes = 0;
  for (const std::string& t : corpus) bytes += t.size();
  std::string temporary;
  if (tokenizer_json.empty()) {
    temporary = DecompressQwen3();
    if (temporary.empty()) return 1;
    tokenizer_json = temporary;
  }
  auto tok = tunefleet::Tokenizer::FromFile(tokenizer_json);
  if (!temporary.empty()) std::remove(temporary.c_str());
  if (!tok.ok()) {
    std::fprintf(stderr, "%s: %s\n", tokenizer_json.c_str(), tok.status().ToString().c_str());
    return 1;
  }
  const std::string label = temporary.empty() ? tokenizer_json : "Qwen3";
  for (const char* pass : {"cold cache", "warm cache"}) {
    const auto start = std::chrono::steady_clock::now();
    size_t ids = 0;
    for (const std::string& t : corpus) ids += (*tok)->Encode(t).size();
    const double s = SecondsSince(start);
    std::printf("encode (%s, %s): %.2f MB in %.2f s = %.2f MB/s, %zu ids\n", label.c_str(), pass, bytes / 1e6, s,
                bytes / 1e6 / s, ids);
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
