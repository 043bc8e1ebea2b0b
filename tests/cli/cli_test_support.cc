#include "tests/cli/cli_test_support.h"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

namespace tunefleet::testing {

RunResult RunCli(int port, const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {kCli, "--coordinator", "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout);
}

std::string Normalise(const std::string& text, const std::string& dir) {
  std::string out = text;
  if (!dir.empty()) {
    for (size_t at = out.find(dir); at != std::string::npos; at = out.find(dir, at)) out.replace(at, dir.size(), "<dir>");
  }
  out = std::regex_replace(out, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d))"), "<time>");
  out = std::regex_replace(out, std::regex(R"(\b\d+(s|m(\d+s)?|h(\d+m)?|d)\b)"), "<age>");
  return out;
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = TUNEFLEET_SOURCE_DIR "/tests/cli/golden/" + name;
  if (std::getenv("TUNEFLEET_UPDATE_GOLDEN") != nullptr) {
    WriteFile(path, actual);
    return;
  }
  EXPECT_EQ(ReadFileText(path), actual) << "golden file " << path
                                        << " differs (TUNEFLEET_UPDATE_GOLDEN=1 rewrites it)";
}

}  // namespace tunefleet::testing
