// Every executable answers --help and --version and exits 0.

#include <gtest/gtest.h>

#include <unistd.h>

#include <regex>
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

#ifdef TUNEFLEET_TORCH_PIN
const std::string kTrainer = std::string(TUNEFLEET_BINARY_DIR) + "/trainer/tunefleet-trainer";

// The trainer reports the libtorch (the pinned wheel's), CUDA and NCCL it was
// built with, and the GPUs it sees: none on a machine without a driver, where
// the same binary trains on the CPU.
TEST(TrainerBuild, VersionNamesTorchCudaNcclAndTheDevicesItSees) {
  auto version = testing::RunCommand({kTrainer, "--version"});
  ASSERT_EQ(version.exit_code, 0) << version.output;
  EXPECT_NE(version.output.find("libtorch " TUNEFLEET_TORCH_PIN), std::string::npos) << version.output;
#ifdef TUNEFLEET_NCCL_VERSION
  EXPECT_NE(version.output.find("\nCUDA 13."), std::string::npos) << version.output;
  EXPECT_NE(version.output.find("\nNCCL " TUNEFLEET_NCCL_VERSION), std::string::npos) << version.output;
#endif
  std::smatch devices;
  const std::string out = version.output;
  ASSERT_TRUE(std::regex_search(out, devices, std::regex(R"(CUDA devices visible: (\d+))"))) << out;
  if (access("/dev/nvidia0", F_OK) != 0) {
    EXPECT_EQ(devices[1], "0") << "no GPU device node here";
  }
}

// Linked --as-needed: the binary needs libtorch_cuda (CUDA kernels, NCCL)
// but never the driver's libcuda.so.1, so it starts where no driver is.
TEST(TrainerBuild, NeedsNoDriverLibrary) {
  auto dynamic = testing::RunCommand({"/usr/bin/readelf", "-d", kTrainer});
  ASSERT_EQ(dynamic.exit_code, 0) << dynamic.output;
  EXPECT_EQ(dynamic.output.find("[libcuda.so"), std::string::npos) << dynamic.output;
  EXPECT_NE(dynamic.output.find("[libtorch_cpu.so]"), std::string::npos) << dynamic.output;
#ifdef TUNEFLEET_NCCL_VERSION
  EXPECT_NE(dynamic.output.find("[libtorch_cuda.so]"), std::string::npos) << dynamic.output;
#endif
}
#endif

}  // namespace
}  // namespace tunefleet
