#include "tests/testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace tunefleet::testing {
namespace {

std::atomic<int> counter{0};

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string FreshTestDirectory() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info == nullptr ? "test" : std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("tunefleet_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

ChildProcess ChildProcess::Start(const std::vector<std::string>& argv,
                                 const std::vector<std::pair<std::string, std::string>>& env) {
  const std::string output_path = std::filesystem::path(::testing::TempDir()) /
                                  ("child_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + ".log");
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // its own group: Signal and the destructor reach its children too
    const int fd = open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so there is no window where Signal misses
  return ChildProcess(pid, output_path);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_code_(other.exit_code_),
      output_path_(std::move(other.output_path_)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    if (!exit_code_.has_value()) {
      kill(-pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    } else {
      kill(-pid_, SIGKILL);  // grandchildren it may have left behind
    }
  }
  if (!output_path_.empty()) std::filesystem::remove(output_path_);
}

std::string ChildProcess::output() const {
  std::ifstream in(output_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_.has_value()) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = DecodeStatus(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !exit_code_.has_value()) kill(-pid_, signal);
}

bool ChildProcess::WaitForOutput(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (output().find(text) != std::string::npos) return true;
    if (Wait(std::chrono::milliseconds(0)).has_value()) return output().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

RunResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ChildProcess child = ChildProcess::Start(argv);
  const auto code = child.Wait(timeout);
  return RunResult{code.value_or(-1), child.output()};
}

}  // namespace tunefleet::testing
