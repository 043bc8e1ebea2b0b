#include "worker/supervisor/trainer_cgroups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tunefleet::supervisor {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A plain folder laid out like a cgroup v2 group (cgroupfs itself is not
// writable in every test environment; the logic is the same).
std::string FakeGroup(const std::string& controllers, const std::string& subtree_control = "") {
  const std::string dir = ::testing::TempDir() + "/cgroup-" +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
                          std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  Write(dir + "/cgroup.controllers", controllers);
  Write(dir + "/cgroup.subtree_control", subtree_control);
  return dir;
}

TEST(TrainerCgroups, FindsTheWorkersOwnGroupBeneathTheCgroup2Mount) {
  const std::string dir = FakeGroup("");
  Write(dir + "/cgroup", "12:pids:/old\n0::/system.slice/tunefleet-worker.service\n");
  Write(dir + "/mountinfo",
        "25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw\n"
        "36 25 0:31 / /sys/fs/cgroup rw,nosuid,nodev shared:9 - cgroup2 cgroup2 rw,nsdelegate\n");
  EXPECT_EQ(*OwnCgroupDirectory(dir + "/cgroup", dir + "/mountinfo"),
            "/sys/fs/cgroup/system.slice/tunefleet-worker.service");
  Write(dir + "/cgroup", "0::/\n");  // a container's namespace root
  EXPECT_EQ(*OwnCgroupDirectory(dir + "/cgroup", dir + "/mountinfo"), "/sys/fs/cgroup");
  Write(dir + "/cgroup", "4:memory:/docker/abc\n");  // cgroup v1 only
  auto v1_only = OwnCgroupDirectory(dir + "/cgroup", dir + "/mountinfo");
  ASSERT_FALSE(v1_only.ok());
  EXPECT_THAT(v1_only.status().message(), HasSubstr("no cgroup v2 membership"));
}

TEST(TrainerCgroups, AGroupWithoutMemoryAndPidsIsRefusedSayingWhatIsMissing) {
  auto opened = TrainerCgroups::Open(FakeGroup("cpu hugetlb\n"));
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("offers the controllers [cpu hugetlb]"));
  EXPECT_THAT(opened.status().message(), HasSubstr("need memory and pids"));
  auto missing = TrainerCgroups::Open(::testing::TempDir() + "/no-such-cgroup");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("no cgroup v2 group at"));
}

TEST(TrainerCgroups, EachTrainerGetsAGroupWithItsBoundsAndItIsRemovedAfter) {
  const std::string dir = FakeGroup("cpu io memory pids\n");
  auto cgroups = TrainerCgroups::Open(dir);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  EXPECT_EQ(Read(dir + "/cgroup.subtree_control"), "+memory +pids");  // enabled for the children
  auto group = (*cgroups)->Create("trainer-job1-g3-r0", uint64_t{8} << 30, 4096);
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_EQ(*group, dir + "/trainer-job1-g3-r0");
  EXPECT_EQ(Read(*group + "/memory.max"), "8589934592");
  EXPECT_EQ(Read(*group + "/pids.max"), "4096");
  EXPECT_FALSE((*cgroups)->OomKilled(*group));
  Write(*group + "/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n");
  EXPECT_TRUE((*cgroups)->OomKilled(*group));

  // cgroupfs removes a group with its control files; a plain folder cannot.
  for (const char* file : {"memory.max", "pids.max", "memory.events"}) fs::remove(*group + "/" + file);
  (*cgroups)->Remove(*group);
  EXPECT_FALSE(fs::exists(*group));
  EXPECT_TRUE((*cgroups)->pending_removals().empty());

  auto unbounded = (*cgroups)->Create("trainer-job1-g3-r1", 0, 0);
  ASSERT_TRUE(unbounded.ok());
  EXPECT_EQ(Read(*unbounded + "/memory.max"), "max");
  EXPECT_EQ(Read(*unbounded + "/pids.max"), "max");
  EXPECT_FALSE((*cgroups)->Create("../escape", 1, 1).ok());
}

TEST(TrainerCgroups, EmptyGroupsAWorkerBeforeThisOneLeftAreRemovedAtOpen) {
  const std::string dir = FakeGroup("memory pids", "memory pids");
  fs::create_directories(dir + "/trainer-old-g1-r0");
  fs::create_directories(dir + "/trainer-busy-g1-r0");
  Write(dir + "/trainer-busy-g1-r0/cgroup.procs", "1234\n");  // cgroupfs refuses rmdir while it holds one
  fs::create_directories(dir + "/someone-else");
  ASSERT_TRUE(TrainerCgroups::Open(dir).ok());
  EXPECT_FALSE(fs::exists(dir + "/trainer-old-g1-r0"));
  EXPECT_TRUE(fs::exists(dir + "/trainer-busy-g1-r0"));
  EXPECT_TRUE(fs::exists(dir + "/someone-else"));
}

TEST(TrainerCgroups, AGroupStillBusyIsRemovedOnALaterPass) {
  const std::string dir = FakeGroup("memory pids", "memory pids");
  auto cgroups = TrainerCgroups::Open(dir);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  EXPECT_EQ(Read(dir + "/cgroup.subtree_control"), "memory pids");  // already enabled: left alone
  auto group = (*cgroups)->Create("trainer-a-g1-r0", 1 << 20, 16);
  ASSERT_TRUE(group.ok());
  (*cgroups)->Remove(*group);  // not empty yet: kept for later
  EXPECT_THAT((*cgroups)->pending_removals(), ::testing::ElementsAre(*group));
  for (const char* file : {"memory.max", "pids.max"}) fs::remove(*group + "/" + file);
  ASSERT_TRUE((*cgroups)->Create("trainer-a-g1-r1", 1 << 20, 16).ok());  // retries first
  EXPECT_FALSE(fs::exists(*group));
  EXPECT_TRUE((*cgroups)->pending_removals().empty());
}

// This machine's own cgroup, whatever it offers: either trainers' groups can
// be made (then one is, bounded, and holds a process), or Open says why not.
TEST(TrainerCgroups, TheRealCgroupIsUsableOrSaysWhyNot) {
  auto own = OwnCgroupDirectory();
  if (!own.ok()) {
    EXPECT_THAT(own.status().message(), ::testing::AnyOf(HasSubstr("cgroup"), HasSubstr("cannot read")));
    return;
  }
  auto opened = TrainerCgroups::Open(*own);
  if (!opened.ok()) {
    EXPECT_THAT(opened.status().message(),
                ::testing::AnyOf(HasSubstr("memory and pids"), HasSubstr("cannot")));
    return;
  }
  auto group = (*opened)->Create("tunefleet-test-" + std::to_string(getpid()), uint64_t{64} << 20, 32);
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_EQ(Read(*group + "/memory.max"), "67108864\n");
  (*opened)->Remove(*group);
  EXPECT_FALSE(fs::exists(*group));
}

}  // namespace
}  // namespace tunefleet::supervisor
