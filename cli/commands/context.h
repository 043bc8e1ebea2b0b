#pragma once
// What every verb shares: the coordinator address, a connected channel, and
// the one way an error leaves the CLI (one line on stderr, non-zero exit).

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tunefleet/v1/admin_service.grpc.pb.h"
#include "tunefleet/v1/job_service.grpc.pb.h"
#include "tunefleet/v1/sweep_service.grpc.pb.h"

namespace tunefleet::cli {

// Exit codes (documented in docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;         // server error, bad input, unreachable coordinator
inline constexpr int kExitJobFailed = 3;     // watch: the job ended FAILED
inline constexpr int kExitJobCancelled = 4;  // watch: the job ended CANCELLED

struct GlobalOptions {
  std::string coordinator;  // empty: the config's, else 127.0.0.1:50051
  // Credentials (see cluster_config.h): a state folder of `tunefleet up`, or
  // a kubeconfig-like file; a token file overrides the context's.
  std::string state_dir;
  std::string config;
  std::string token_file;
  bool insecure = false;  // plaintext, no token: a loopback coordinator run --insecure
  double connect_timeout_s = 5;  // an unreachable coordinator fails within this
  double rpc_timeout_s = 30;     // deadline of each unary call
};

absl::Status FromGrpc(const grpc::Status& status);

// Prints "tunefleet: CODE: message" and returns kExitError.
int ReportError(const absl::Status& status);

// A job or worker name in its resource form: "x" -> "jobs/x"; "jobs/x" stays.
std::string JobName(const std::string& id_or_name);
std::string WorkerName(const std::string& id_or_name);

// A channel to the coordinator with the credentials `options` lead to, and
// the address it dials.
struct CoordinatorChannel {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
};
absl::StatusOr<CoordinatorChannel> OpenCoordinatorChannel(const GlobalOptions& options);

class Connection {
 public:
  // Connects within options.connect_timeout_s, or UNAVAILABLE naming the address.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const GlobalOptions& options);

  v1::JobService::Stub& jobs() { return *jobs_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  v1::SweepService::Stub& sweeps() { return *sweeps_; }
  // A context with the unary deadline set.
  std::unique_ptr<grpc::ClientContext> UnaryContext() const;
  const std::string& address() const { return address_; }

 private:
  explicit Connection(const GlobalOptions& options) : options_(options) {}
  GlobalOptions options_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::SweepService::Stub> sweeps_;
};

}  // namespace tunefleet::cli
