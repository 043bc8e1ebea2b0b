#include "worker/supervisor/process_supervisor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "worker/supervisor/trainer_limits.h"

namespace tunefleet::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TestDir() {
  const std::string dir = ::testing::TempDir() + "/supervisor-" +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
                          std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Waits (with a deadline) until the child has exec'd `program`: its limits
// are set before exec, so they are in place from then on.
bool WaitForExec(pid_t pid, const std::string& program) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename() == program)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The line of /proc/<pid>/limits for `name`, e.g. "Max open files".
std::string LimitLine(pid_t pid, const std::string& name) {
  std::istringstream limits(Read("/proc/" + std::to_string(pid) + "/limits"));
  for (std::string line; std::getline(limits, line);) {
    if (line.rfind(name, 0) == 0) return line;
  }
  return "";
}

void KillAndReap(pid_t pid) {
  SignalGroup(pid, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!PollExit(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TEST(ProcessSupervisor, TheSpawnedChildRunsUnderItsTrainerLimits) {
  const std::string dir = TestDir();
  TrainerLimits limits;
  limits.address_space_bytes = uint64_t{6} << 30;
  limits.open_files = 512;
  ProcessSpec spec;
  spec.argv = {"/bin/sleep", "30"};
  spec.log_path = dir + "/child.log";
  spec.limits = TrainerRlimits(limits, /*uses_gpu=*/false);
  auto pid = Spawn(spec);
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_TRUE(WaitForExec(*pid, "sleep"));
  EXPECT_THAT(LimitLine(*pid, "Max address space"),
              MatchesRegex("Max address space +6442450944 +6442450944 +bytes *"));
  EXPECT_THAT(LimitLine(*pid, "Max open files"), MatchesRegex("Max open files +512 +512 +files *"));
  EXPECT_THAT(LimitLine(*pid, "Max core file size"), MatchesRegex("Max core file size +0 +0 +bytes *"));
  KillAndReap(*pid);

  // A GPU rank: no address-space bound (CUDA reserves more than any memory).
  spec.limits = TrainerRlimits(limits, /*uses_gpu=*/true);
  pid = Spawn(spec);
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_TRUE(WaitForExec(*pid, "sleep"));
  EXPECT_THAT(LimitLine(*pid, "Max address space"),
              MatchesRegex("Max address space +unlimited +unlimited +bytes *"));
  EXPECT_THAT(LimitLine(*pid, "Max open files"), MatchesRegex("Max open files +512 +512 +files *"));
  KillAndReap(*pid);
}

TEST(ProcessSupervisor, AChildPastItsAddressSpaceLimitCannotAllocate) {
  const std::string dir = TestDir();
  ProcessSpec spec;
  // dd asks for one 1 GiB buffer: refused under a 256 MiB address space.
  spec.argv = {"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=1G", "count=1"};
  spec.log_path = dir + "/child.log";
  spec.limits = {{RLIMIT_AS, rlim_t{256} << 20}};
  auto pid = Spawn(spec);
  ASSERT_TRUE(pid.ok()) << pid.status();
  std::optional<int> code;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!(code = PollExit(*pid)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(Read(spec.log_path), HasSubstr("memory"));
}

TEST(ProcessSupervisor, TheChildJoinsItsCgroupBeforeExec) {
  // A plain folder standing in for a cgroup: the child writes "0" (itself)
  // to its cgroup.procs, as it would in cgroupfs.
  const std::string dir = TestDir();
  std::filesystem::create_directories(dir + "/group");
  std::ofstream(dir + "/group/cgroup.procs").close();
  ProcessSpec spec;
  spec.argv = {"/bin/true"};
  spec.log_path = dir + "/child.log";
  spec.cgroup = dir + "/group";
  auto pid = Spawn(spec);
  ASSERT_TRUE(pid.ok()) << pid.status();
  std::optional<int> code;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(code = PollExit(*pid)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(code, 0);
  EXPECT_EQ(Read(dir + "/group/cgroup.procs"), "0");

  spec.cgroup = dir + "/gone";
  auto refused = Spawn(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr(dir + "/gone/cgroup.procs"));
}

}  // namespace
}  // namespace tunefleet::supervisor
