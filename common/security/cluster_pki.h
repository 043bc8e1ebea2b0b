#pragma once
// A cluster's credentials in one folder, as `tunefleet up` and the test
// harnesses make them (Kubernetes mounts the same files from Secrets):
//
//   ca.pem ca.key                 the cluster CA (the key only here, 0600)
//   coordinator.pem .key          OU=coordinator, SAN tunefleet-coordinator, localhost
//   workers/<id>.pem .key         OU=worker, CN=SAN=<id>
//   tokens                        "<sha256 hex> <user> <role>" per line (0600)
//   admin.token                   the admin's bearer token itself (0600)

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/security/tls.h"

namespace tunefleet::security {

// Creates whatever of the CA, the coordinator's certificate and the admin
// token is missing; keeps what exists (a restarted `up` keeps its cluster).
absl::Status EnsureClusterPki(const std::string& dir);
// Issues workers/<id>.pem unless it exists.
absl::Status EnsureWorkerCertificate(const std::string& dir, const std::string& worker_id);
// A new bearer token for `user` with `role`, its hash appended to `tokens`.
absl::StatusOr<std::string> AddUserToken(const std::string& dir, const std::string& user, const std::string& role);

TlsFiles CoordinatorFiles(const std::string& dir);
TlsFiles WorkerFiles(const std::string& dir, const std::string& worker_id);
TlsFiles ClientFiles(const std::string& dir);  // the CA only: users prove themselves by token
std::string TokensPath(const std::string& dir);
std::string AdminTokenPath(const std::string& dir);

}  // namespace tunefleet::security
