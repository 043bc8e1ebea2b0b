#include "cli/local_cluster/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tunefleet::cli {

absl::StatusOr<Daemon> Daemon::Start(const std::string& label, const std::vector<std::string>& argv,
                                     const std::string& log_path, int death_signal) {
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return absl::UnavailableError(absl::StrCat("cannot open ", log_path, ": ", std::strerror(errno)));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return absl::UnavailableError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, death_signal);
    if (getppid() != parent) _exit(1);  // we died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // `up` blocks the stop signals; the daemon must not inherit that
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    execv(args[0], args.data());
    dprintf(STDERR_FILENO, "tunefleet up: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);  // also from here, so the group exists before we ever signal it
  close(log);
  Daemon daemon;
  daemon.label_ = label;
  daemon.pid_ = pid;
  daemon.log_path_ = log_path;
  return daemon;
}

std::optional<int> Daemon::Poll() {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return exit_code_;
}

int Daemon::Stop(double grace_s) {
  if (Poll()) return *exit_code_;
  auto wait = [&](double seconds) {
    const absl::Time deadline = absl::Now() + absl::Seconds(seconds);
    while (!Poll() && absl::Now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return exit_code_.has_value();
  };
  kill(-pid_, SIGTERM);
  if (!wait(grace_s)) {
    kill(-pid_, SIGTERM);
    wait(5);
  }
  if (!Poll()) {
    kill(-pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_code_ = 128 + SIGKILL;
  }
  kill(-pid_, SIGKILL);  // anything left in its group (a trainer that ignored SIGTERM)
  return *exit_code_;
}

std::string Daemon::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

}  // namespace tunefleet::cli
