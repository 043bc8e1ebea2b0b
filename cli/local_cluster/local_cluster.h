#pragma once
// `tunefleet up`: a coordinator and N workers on this machine, everything
// under one state folder, stopped in order on SIGINT/SIGTERM.

#include <string>
#include <vector>

namespace tunefleet::cli {

struct LocalClusterOptions {
  int workers = 2;
  int cpu_slots = 1;
  std::string state_dir = ".state/cluster";
  std::string listen = "127.0.0.1:50051";  // port 0: any free port (see <state>/coordinator.address)
  std::string coordinator_binary, worker_binary, trainer_binary;  // empty: beside this executable
  double startup_timeout_s = 30;
  // Plaintext and no authentication (loopback --listen only); otherwise
  // <state>/pki holds the CA, the daemons' certificates and the admin token.
  bool insecure = false;
  // Where the cluster's context is written (and made current); empty: not written.
  std::string config_path;
  bool write_config = true;
  // Where jobs' paths may lie (docs/security.md): the state dir and these
  // (none given: the current directory); the coordinator checks at submit,
  // each trainer at open. allow_any_path: the operator's escape hatch.
  std::vector<std::string> allowed_roots;
  bool allow_any_path = false;
};

// Runs until a stop signal (or a daemon dies); the process's exit status.
int RunLocalCluster(LocalClusterOptions options);

// A sibling binary of the build tree (build/cli/tunefleet ->
// build/<folder>/<name>) or of an install (bin/tunefleet -> bin/<name>).
std::string FindSiblingBinary(const std::string& folder, const std::string& name);

}  // namespace tunefleet::cli
