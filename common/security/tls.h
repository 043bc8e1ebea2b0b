#pragma once
// gRPC credentials from a cluster's PEM files, and who the peer of a call is.
//
// Every client verifies the server against the cluster CA under a fixed
// server name (the coordinator's certificate names kCoordinatorServerName, a
// worker's names its id), so a certificate proves a role and a name, not an
// IP address: pods move, names do not.

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/security/pki.h"

namespace tunefleet::security {

inline constexpr char kCoordinatorServerName[] = "tunefleet-coordinator";

// Paths of PEM files. `certificate`/`private_key` may be empty for a client
// that proves itself with a bearer token instead.
struct TlsFiles {
  std::string ca;
  std::string certificate;
  std::string private_key;
};

enum class ClientCertificates {
  kOptional,  // verified against the CA when sent (coordinator: workers send one, users a token)
  kRequired,  // worker log service: only the coordinator calls it
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsFiles& files,
                                                                          ClientCertificates client_certificates);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const TlsFiles& files);
// `channel` plus "authorization: Bearer <token>" on every call (gRPC sends
// call credentials over TLS channels only).
std::shared_ptr<grpc::ChannelCredentials> WithBearerToken(std::shared_ptr<grpc::ChannelCredentials> channel,
                                                          const std::string& token);
// Verify the server's certificate against `server_name` whatever the address dialled.
grpc::ChannelArguments ServerNameArguments(const std::string& server_name);

// The verified client certificate of a call; NOT_FOUND when it sent none.
absl::StatusOr<CertificateIdentity> PeerCertificate(const grpc::ServerContext& context);

// "127.0.0.1:0", "localhost:50051", "[::1]:1": --insecure is allowed only there.
bool IsLoopback(const std::string& host_port);

}  // namespace tunefleet::security
