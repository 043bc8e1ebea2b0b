#include "worker/supervisor/trainer_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/exit_codes.h"

namespace tunefleet::supervisor {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(TrainerLimits, SizesAreBytesUnitsOrAShareOfTheMachine) {
  EXPECT_EQ(*ParseMemorySize("8G", 0, "--f"), 8 * kGiB);
  EXPECT_EQ(*ParseMemorySize("512M", 0, "--f"), uint64_t{512} << 20);
  EXPECT_EQ(*ParseMemorySize("1.5g", 0, "--f"), 3 * kGiB / 2);
  EXPECT_EQ(*ParseMemorySize("4096", 0, "--f"), 4096u);
  EXPECT_EQ(*ParseMemorySize("80%", 10 * kGiB, "--f"), 8 * kGiB);
  EXPECT_EQ(*ParseMemorySize("off", 10 * kGiB, "--f"), 0u);
  EXPECT_EQ(*ParseMemorySize("0", 10 * kGiB, "--f"), 0u);
  for (const char* bad : {"", "lots", "-1G", "8X", "1e30", "0.0001", "%"}) {
    auto parsed = ParseMemorySize(bad, 10 * kGiB, "--trainer-memory-max");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("--trainer-memory-max \"")) << bad;
  }
}

TEST(TrainerLimits, AddressSpaceIsBoundOnCpuRanksOnlyAndCoresAreOff) {
  TrainerLimits limits;
  limits.address_space_bytes = 8 * kGiB;
  limits.open_files = 4096;
  const auto cpu = TrainerRlimits(limits, /*uses_gpu=*/false);
  ASSERT_EQ(cpu.size(), 3u);
  EXPECT_EQ(cpu[0].resource, RLIMIT_AS);
  EXPECT_EQ(cpu[0].value, 8 * kGiB);
  EXPECT_EQ(cpu[1].resource, RLIMIT_NOFILE);
  EXPECT_EQ(cpu[1].value, 4096u);
  EXPECT_EQ(cpu[2].resource, RLIMIT_CORE);
  EXPECT_EQ(cpu[2].value, 0u);
  EXPECT_EQ(TrainerRlimits(limits, /*uses_gpu=*/true)[0].value, RLIM_INFINITY);
  limits.address_space_bytes = 0;
  EXPECT_EQ(TrainerRlimits(limits, false)[0].value, RLIM_INFINITY);
}

TEST(TrainerLimits, AMemoryFailureNamesTheLimitItMet) {
  TrainerLimits limits;
  limits.address_space_bytes = 2 * kGiB;
  limits.memory_max_bytes = 3 * kGiB;
  EXPECT_EQ(
      ExitReason(exit_codes::kOutOfMemory, false, limits, false),
      "out of memory (exit 71): an allocation was refused at the address-space limit RLIMIT_AS of 2 GiB "
      "(--trainer-address-space-max)");
  EXPECT_EQ(ExitReason(128 + 9, true, limits, true),
            "out of memory: killed by the kernel's OOM killer at its cgroup's memory.max of 3 GiB "
            "(--trainer-memory-max)");
  EXPECT_EQ(ExitReason(exit_codes::kOutOfMemory, false, limits, /*uses_gpu=*/true),
            "out of memory (exit 71): an allocation was refused");
  EXPECT_EQ(ExitReason(128 + 9, false, limits, false), "killed by signal 9");
  EXPECT_EQ(ExitReason(1, false, limits, false), "");
  EXPECT_EQ(FormatBytes(1536ull << 20), "1.5 GiB");
}

}  // namespace
}  // namespace tunefleet::supervisor
