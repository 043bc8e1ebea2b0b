// `tunefleet up`: it starts a coordinator and workers, a job runs on it, and
// SIGINT stops every process it started (checked by pid), trainers included.

#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/cli_test_support.h"
#include "tests/control_plane/cluster.h"

namespace tunefleet::testing {
namespace {

bool Alive(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

std::vector<pid_t> Pids(const std::string& text, const std::string& pattern) {
  std::vector<pid_t> pids;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) {
    pids.push_back(std::stoi((*it)[1]));
  }
  return pids;
}

TEST(CliUp, RunsAJobAndStopsEverythingOnSigint) {
  const std::string dir = FreshTestDirectory();
  // `up` writes its context here (not the user's ~/.config), and the CLI runs below read it.
  setenv("TUNEFLEET_CONFIG", (dir + "/config").c_str(), 1);
  ChildProcess up = ChildProcess::Start({kCli, "up", "--workers", "2", "--listen", "127.0.0.1:0", "--state-dir",
                                         dir + "/state", "--trainer", kFakeTrainerPath, "--allowed-root", dir});
  const std::string address_file = dir + "/state/coordinator.address";
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(address_file); }, 20s)) << up.output();
  const std::string address = ReadFileText(address_file).substr(0, ReadFileText(address_file).find('\n'));
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  EXPECT_THAT(up.output(), ::testing::HasSubstr("coordinator  " + address));
  const std::vector<pid_t> daemons = Pids(up.output(), R"(\(pid (\d+)\))");
  ASSERT_EQ(daemons.size(), 3u) << up.output();

  WriteFile(dir + "/done.yaml", "display_name: \"fake:steps=3\"\nmodel:\n  path: m\ndataset:\n  path: d.jsonl\n"
                                "resources:\n  world_size: 2\n");
  const RunResult submit = RunCli(port, {"submit", dir + "/done.yaml", "--id", "on-up"});
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  const RunResult watch = RunCli(port, {"watch", "on-up"});
  EXPECT_EQ(watch.exit_code, 0) << watch.output;

  // A hanging gang, so SIGINT must also take its trainers down.
  WriteFile(dir + "/hang.yaml", "display_name: \"fake:hang\"\nmodel:\n  path: m\ndataset:\n  path: d.jsonl\n"
                                "resources:\n  world_size: 2\n");
  ASSERT_EQ(RunCli(port, {"submit", dir + "/hang.yaml", "--id", "hang"}).exit_code, 0);
  std::vector<pid_t> trainers;
  ASSERT_TRUE(WaitUntil(
      [&] {
        trainers.clear();
        for (const char* w : {"local-1", "local-2"}) {
          const std::string log = dir + "/state/workers/" + w + "/jobs/hang/attempt-1/rank-";
          for (const char* r : {"0.log", "1.log"}) {
            for (pid_t p : Pids(ReadFileText(log + r), R"(fake-trainer pid (\d+))")) trainers.push_back(p);
          }
        }
        return trainers.size() == 2;
      },
      15s));

  up.Signal(SIGINT);
  const std::optional<int> code = up.Wait(40s);
  ASSERT_TRUE(code.has_value()) << up.output();
  EXPECT_EQ(*code, 0) << up.output();
  EXPECT_THAT(up.output(), ::testing::HasSubstr("local cluster stopped"));
  for (pid_t pid : daemons) EXPECT_FALSE(Alive(pid)) << "daemon pid " << pid << " survived";
  for (pid_t pid : trainers) {
    EXPECT_TRUE(WaitUntil([&] { return !Alive(pid); }, 5s)) << "trainer pid " << pid << " survived";
  }
  EXPECT_FALSE(std::filesystem::exists(address_file));

  // Again on the same state folder (the workers drained themselves when
  // stopped, and the database remembers): it comes up READY and runs jobs.
  ChildProcess again = ChildProcess::Start({kCli, "up", "--workers", "2", "--listen", "127.0.0.1:0", "--state-dir",
                                            dir + "/state", "--trainer", kFakeTrainerPath, "--allowed-root", dir});
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(address_file); }, 20s)) << again.output();
  const std::string second = ReadFileText(address_file);
  const int port2 = std::stoi(second.substr(second.rfind(':') + 1));
  // The gang that was hanging when the first run stopped was requeued; it would hold both slots.
  EXPECT_EQ(RunCli(port2, {"cancel", "hang"}).exit_code, 0);
  ASSERT_EQ(RunCli(port2, {"submit", dir + "/done.yaml", "--id", "second-run"}).exit_code, 0);
  const RunResult watch2 = RunCli(port2, {"watch", "second-run"});
  EXPECT_EQ(watch2.exit_code, 0) << watch2.output << again.output();
  again.Signal(SIGTERM);
  EXPECT_EQ(again.Wait(40s), std::optional<int>(0)) << again.output();
}

}  // namespace
}  // namespace tunefleet::testing
