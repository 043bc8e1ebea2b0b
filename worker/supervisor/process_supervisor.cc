#include "worker/supervisor/process_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace tunefleet::supervisor {

absl::StatusOr<pid_t> Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty argv");
  // Everything the child needs is built before fork: after it, in a
  // multi-threaded parent, only async-signal-safe calls are allowed.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [key, value] : spec.env) env[key] = value;
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = spec.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  std::vector<std::pair<decltype(RLIMIT_AS), rlimit>> limits;
  for (const ResourceLimit& limit : spec.limits) {
    rlimit current{};
    if (getrlimit(limit.resource, &current) != 0) continue;
    const rlim_t value = current.rlim_max == RLIM_INFINITY ? limit.value
                         : limit.value == RLIM_INFINITY    ? current.rlim_max
                                                           : std::min(limit.value, current.rlim_max);
    limits.push_back({limit.resource, rlimit{value, value}});
  }
  int cgroup_fd = -1;
  if (!spec.cgroup.empty()) {
    const std::string procs = spec.cgroup + "/cgroup.procs";
    cgroup_fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (cgroup_fd < 0) {
      return absl::UnavailableError(absl::StrCat("cannot open ", procs, ": ", std::strerror(errno)));
    }
  }
  const int log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    if (cgroup_fd >= 0) close(cgroup_fd);
    return absl::UnavailableError(absl::StrCat("cannot open log ", spec.log_path, ": ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    if (cgroup_fd >= 0) close(cgroup_fd);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the worker died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // the worker blocks SIGTERM; a trainer must not
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    // "0" moves the writing process. A trainer never runs outside the limits
    // it was given: failing to apply one fails the start.
    if (cgroup_fd >= 0 && write(cgroup_fd, "0", 1) != 1) {
      static const char kNoCgroup[] = "tunefleet-worker: cannot move the trainer into its cgroup\n";
      const ssize_t ignored = write(STDERR_FILENO, kNoCgroup, sizeof(kNoCgroup) - 1);
      (void)ignored;
      _exit(127);
    }
    // setrlimit is one system call (prlimit64), safe between fork and exec.
    for (const auto& [resource, value] : limits) {
      if (setrlimit(resource, &value) != 0) {
        static const char kNoLimit[] = "tunefleet-worker: cannot set the trainer's resource limits\n";
        const ssize_t ignored = write(STDERR_FILENO, kNoLimit, sizeof(kNoLimit) - 1);
        (void)ignored;
        _exit(127);
      }
    }
    execve(argv[0], argv.data(), envp.data());
    static const char kFailed[] = "tunefleet-worker: exec of the trainer failed\n";
    const ssize_t ignored = write(STDERR_FILENO, kFailed, sizeof(kFailed) - 1);
    (void)ignored;
    _exit(127);
  }
  setpgid(pid, pid);  // also from here, so a signal sent right away reaches the group
  close(log_fd);
  if (cgroup_fd >= 0) close(cgroup_fd);
  return pid;
}

std::optional<int> PollExit(pid_t pid) {
  int status = 0;
  const pid_t done = waitpid(pid, &status, WNOHANG);
  if (done == 0) return std::nullopt;
  if (done < 0) return 255;  // not our child any more: report it as gone
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return std::nullopt;
}

void SignalGroup(pid_t pid, int signal) {
  if (pid > 0) kill(-pid, signal);
}

}  // namespace tunefleet::supervisor
