// Every executable answers --help and --version and exits 0.

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/child_process.h"

namespace tunefleet {
namespace {

class BinariesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BinariesTest, AnswersHelpAndVersion) {
  const std::string path = std::string(TUNEFLEET_BINARY_DIR) + "/" + GetParam();
  auto help = testing::RunCommand({path, "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_NE(help.output.find("Usage"), std::string::npos) << help.output;
  auto version = testing::RunCommand({path, "--version"});
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_NE(version.output.find("tunefleet"), std::string::npos) << version.output;
}

INSTANTIATE_TEST_SUITE_P(All, BinariesTest,
                         ::testing::Values("coordinator/tunefleet-coordinator", "worker/tunefleet-worker",
                                           "cli/tunefleet", "trainer/tunefleet-trainer"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param.substr(param.param.find('/') + 1);
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tunefleet
