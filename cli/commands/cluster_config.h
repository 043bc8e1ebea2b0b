#pragma once
// Where the CLI finds a cluster and its credentials, kubeconfig-like:
// ~/.config/tunefleet/config (or $TUNEFLEET_CONFIG, or --config) holds named
// contexts and the current one; `tunefleet up` writes its cluster there.
//
//   current-context: local
//   contexts:
//     local:
//       coordinator: 127.0.0.1:50051
//       certificate-authority: /abs/.state/cluster/pki/ca.pem
//       token-file: /abs/.state/cluster/pki/admin.token
//       server-name: tunefleet-coordinator   # what the coordinator's certificate names

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tunefleet::cli {

struct ClusterContext {
  std::string coordinator;
  std::string certificate_authority;
  std::string token_file;
  std::string server_name;
};

// $XDG_CONFIG_HOME/tunefleet/config, else $HOME/.config/tunefleet/config.
std::string DefaultConfigPath();
// The current context; nullopt when the file does not exist.
absl::StatusOr<std::optional<ClusterContext>> ReadCurrentContext(const std::string& path);
// Adds or replaces `name` and makes it current; other contexts stay. 0600.
absl::Status WriteContext(const std::string& path, const std::string& name, const ClusterContext& context);
// The context of a state folder made by `tunefleet up` (its pki/ folder).
ClusterContext StateDirContext(const std::string& state_dir, const std::string& coordinator);

}  // namespace tunefleet::cli
