#include "cli/commands/context.h"

#include <filesystem>
#include <iostream>
#include <optional>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/commands/cluster_config.h"
#include "common/security/secrets.h"
#include "common/security/tls.h"

namespace tunefleet::cli {

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

int ReportError(const absl::Status& status) {
  std::cerr << "tunefleet: " << absl::StatusCodeToString(status.code()) << ": " << status.message() << std::endl;
  return kExitError;
}

std::string JobName(const std::string& id_or_name) {
  return absl::StartsWith(id_or_name, "jobs/") ? id_or_name : "jobs/" + id_or_name;
}

std::string WorkerName(const std::string& id_or_name) {
  return absl::StartsWith(id_or_name, "workers/") ? id_or_name : "workers/" + id_or_name;
}

namespace {

constexpr char kDefaultCoordinator[] = "127.0.0.1:50051";
constexpr char kUpDefaultStateDir[] = ".state/cluster";  // `tunefleet up`'s default --state-dir

// The context the options lead to: --state-dir, else the config file, else
// the default state folder of `tunefleet up` run here.
absl::StatusOr<std::optional<ClusterContext>> FindContext(const GlobalOptions& options) {
  auto from_state_dir = [](const std::string& dir) {
    std::string address;
    if (auto file = security::ReadSmallFile(dir + "/coordinator.address"); file.ok()) {
      address = std::string(absl::StripAsciiWhitespace(*file));
    }
    return StateDirContext(dir, address);
  };
  if (!options.state_dir.empty()) return from_state_dir(options.state_dir);
  auto configured = ReadCurrentContext(options.config.empty() ? DefaultConfigPath() : options.config);
  if (!configured.ok() || configured->has_value()) return configured;
  if (std::filesystem::exists(std::string(kUpDefaultStateDir) + "/pki/ca.pem")) {
    return from_state_dir(kUpDefaultStateDir);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<CoordinatorChannel> OpenCoordinatorChannel(const GlobalOptions& options) {
  CoordinatorChannel result;
  result.address = options.coordinator;
  if (options.insecure) {
    if (result.address.empty()) result.address = kDefaultCoordinator;
    if (!security::IsLoopback(result.address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--insecure is only for a coordinator on loopback, not ", result.address));
    }
    result.channel = grpc::CreateChannel(result.address, grpc::InsecureChannelCredentials());
    return result;
  }
  auto context = FindContext(options);
  if (!context.ok()) return context.status();
  if (!context->has_value()) {
    return absl::UnauthenticatedError(
        "no credentials: run `tunefleet up` (it writes ~/.config/tunefleet/config), or pass --state-dir, --config "
        "(TUNEFLEET_CONFIG) or --insecure for a loopback coordinator run --insecure");
  }
  const ClusterContext& cluster = **context;
  if (result.address.empty()) result.address = cluster.coordinator.empty() ? kDefaultCoordinator : cluster.coordinator;
  auto tls = security::ChannelCredentials({cluster.certificate_authority, "", ""});
  if (!tls.ok()) return tls.status();
  const std::string token_file = options.token_file.empty() ? cluster.token_file : options.token_file;
  auto token = security::ReadSmallFile(token_file);
  if (!token.ok()) return absl::UnauthenticatedError(absl::StrCat("bearer token: ", token.status().message()));
  result.channel = grpc::CreateCustomChannel(
      result.address, security::WithBearerToken(*tls, std::string(absl::StripAsciiWhitespace(*token))),
      security::ServerNameArguments(cluster.server_name.empty() ? security::kCoordinatorServerName
                                                                : cluster.server_name));
  return result;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const GlobalOptions& options) {
  std::unique_ptr<Connection> connection(new Connection(options));
  auto opened = OpenCoordinatorChannel(options);
  if (!opened.ok()) return opened.status();
  connection->address_ = opened->address;
  connection->channel_ = opened->channel;
  // Connect up front: a wrong address fails here, fast and naming the address,
  // instead of as a per-call timeout deep inside a verb (or never, for streams).
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(options.connect_timeout_s * 1000));
  // A refused connection shows as TRANSIENT_FAILURE at once: fail then rather
  // than retrying until the deadline.
  bool connected = false;
  for (grpc_connectivity_state state = connection->channel_->GetState(/*try_to_connect=*/true);;) {
    if (state == GRPC_CHANNEL_READY) {
      connected = true;
      break;
    }
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) break;
    if (!connection->channel_->WaitForStateChange(state, deadline)) break;  // deadline
    state = connection->channel_->GetState(/*try_to_connect=*/true);
  }
  if (!connected) {
    return absl::UnavailableError(absl::StrCat("cannot reach the coordinator at ", connection->address_,
                                               " (set --coordinator or TUNEFLEET_COORDINATOR; is it running?",
                                               options.insecure ? "" : " does its certificate chain to this cluster's CA?",
                                               ")"));
  }
  connection->jobs_ = v1::JobService::NewStub(connection->channel_);
  connection->admin_ = v1::AdminService::NewStub(connection->channel_);
  connection->sweeps_ = v1::SweepService::NewStub(connection->channel_);
  return connection;
}

std::unique_ptr<grpc::ClientContext> Connection::UnaryContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(options_.rpc_timeout_s * 1000)));
  return context;
}

}  // namespace tunefleet::cli
