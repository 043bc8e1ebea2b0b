#pragma once
// What the trainer's end-to-end tests share: the binaries they run, and a
// fixture with fresh demo data (train, validation and test JSONL) in a
// directory of its own.

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/child_process.h"

namespace tunefleet::testing {

inline const std::string kTrainerBinary = TUNEFLEET_BINARY_DIR "/trainer/tunefleet-trainer";
inline const std::string kDemoDataBinary = TUNEFLEET_BINARY_DIR "/demo/tunefleet-demo-data";
inline const std::string kCliBinary = TUNEFLEET_BINARY_DIR "/cli/tunefleet";
inline const std::string kDemoDir = TUNEFLEET_SOURCE_DIR "/demo";

class DemoDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDirectory();
    auto made = RunCommand({kDemoDataBinary, "--out", dir_ + "/data"});
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
  std::string dir_;
};

}  // namespace tunefleet::testing
