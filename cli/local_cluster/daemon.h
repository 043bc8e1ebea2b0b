#pragma once
// One daemon of the local cluster: a child in its own process group (so the
// terminal's Ctrl-C reaches only `tunefleet up`, which stops the children in
// order), dying with us if we die first (PR_SET_PDEATHSIG), output to a log file.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tunefleet::cli {

class Daemon {
 public:
  // `death_signal` reaches the daemon if `up` dies without stopping it.
  static absl::StatusOr<Daemon> Start(const std::string& label, const std::vector<std::string>& argv,
                                      const std::string& log_path, int death_signal);
  const std::string& label() const { return label_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // Reaps without blocking; the exit code (128+signal) once it has exited.
  std::optional<int> Poll();
  // SIGTERM to its group; after `grace_s` a second SIGTERM (a worker then stops
  // its ranks at once instead of waiting for their checkpoints); SIGKILL 5 s
  // later. Waits until reaped.
  int Stop(double grace_s);
  std::string LogTail(size_t max_bytes = 2000) const;

 private:
  std::string label_;
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> exit_code_;
};

}  // namespace tunefleet::cli
