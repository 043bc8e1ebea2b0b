#pragma once
// Running the tunefleet binary in tests, and golden files with the volatile
// parts (times, ages, the test's temp folder) normalised.

#include <chrono>
#include <string>
#include <vector>

#include "tests/testing/child_process.h"

namespace tunefleet::testing {

inline const std::string kCli = TUNEFLEET_BINARY_DIR "/cli/tunefleet";
inline const std::string kFakeTrainerPath = TUNEFLEET_BINARY_DIR "/tests/control_plane/fake-trainer";

// tunefleet --coordinator 127.0.0.1:<port> args...
RunResult RunCli(int port, const std::vector<std::string>& args,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Ages ("4s", "2m3s"), RFC 3339 times, and `dir` become <age>, <time>, <dir>.
std::string Normalise(const std::string& text, const std::string& dir);

// Compares with tests/cli/golden/<name>; TUNEFLEET_UPDATE_GOLDEN=1 rewrites it.
void ExpectGolden(const std::string& name, const std::string& actual);

void WriteFile(const std::string& path, const std::string& text);
std::string ReadFileText(const std::string& path);

}  // namespace tunefleet::testing
