#pragma once
// Real binaries under test: start one, read what it prints, wait for it with
// a deadline, and always clean it up (the destructor kills its whole process
// group), so a failing test never leaves daemons behind.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tunefleet::testing {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with `argv`, stdout and stderr merged into a file
  // that output() reads. `env` adds or overrides variables.
  static ChildProcess Start(const std::vector<std::string>& argv,
                            const std::vector<std::pair<std::string, std::string>>& env = {});

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Everything printed so far.
  std::string output() const;
  // The exit code (128 + signal when killed by one), or nullopt when it is
  // still running at the deadline.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // Sends `signal` to the child's process group.
  void Signal(int signal);
  // Polls until output() contains `text` or the process exits; true if found.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds timeout);

 private:
  ChildProcess(pid_t pid, std::string output_path) : pid_(pid), output_path_(std::move(output_path)) {}

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string output_path_;
};

struct RunResult {
  int exit_code = -1;  // -1: still running at the deadline (then killed)
  std::string output;
};

// Starts, waits up to `timeout`, kills if still running.
RunResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::minutes(5));

// A fresh empty directory under the test temp dir, named for the running test.
std::string FreshTestDirectory();

}  // namespace tunefleet::testing
